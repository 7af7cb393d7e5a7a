/**
 * Schema fingerprints as the Avro spec defines them for single-object encoding: the CRC-64-AVRO
 * (Rabin) fingerprint of the schema's Parsing Canonical Form, written little-endian after the
 * `C3 01` marker. avsc only offers crypto hashes (`Type#fingerprint`), so the CRC is done here.
 */
import type { Type } from 'avsc'
import { createAvroType } from './avro-type.ts'

/** The fingerprint of the empty string, and the polynomial the table is built from. */
export const CRC64_AVRO_EMPTY = 0xc15d213aa4d7a795n

const MASK_64 = 0xffffffffffffffffn

const TABLE: BigUint64Array = (() => {
  const table = new BigUint64Array(256)
  for (let i = 0; i < 256; i++) {
    let fp = BigInt(i)
    for (let j = 0; j < 8; j++) {
      // Shift right; if the bit shifted out was set, fold in the polynomial.
      fp = (fp >> 1n) ^ (fp & 1n ? CRC64_AVRO_EMPTY : 0n)
    }
    table[i] = fp
  }
  return table
})()

/** CRC-64-AVRO of `bytes`, as an unsigned 64-bit bigint (Java's `long` is the same bits, signed). */
export function crc64Avro(bytes: Uint8Array): bigint {
  let fp = CRC64_AVRO_EMPTY
  for (const byte of bytes) {
    fp = (fp >> 8n) ^ (TABLE[Number((fp ^ BigInt(byte)) & 0xffn)] as bigint)
  }
  return fp & MASK_64
}

/**
 * The Parsing Canonical Form of a schema (parsed JSON or an avsc type): full names, only the
 * attributes that matter for parsing (name, type, fields, symbols, items, values, size, in that
 * order), no whitespace. avsc's `Type#schema()` produces exactly this as long as no logical types
 * are registered (ours are not: see avro-type.ts); the test checks it against the spec's vectors.
 */
export function parsingCanonicalForm(schema: unknown): string {
  const type = isAvroType(schema) ? schema : createAvroType(schema)
  return JSON.stringify(type.schema())
}

/** CRC-64-AVRO fingerprint of a schema's Parsing Canonical Form. */
export function schemaFingerprint(schema: unknown): bigint {
  return crc64Avro(Buffer.from(parsingCanonicalForm(schema), 'utf8'))
}

/** The fingerprint as the 8 little-endian bytes single-object encoding puts after `C3 01`. */
export function fingerprintBytes(fingerprint: bigint): Buffer {
  const bytes = Buffer.alloc(8)
  bytes.writeBigUInt64LE(fingerprint)
  return bytes
}

function isAvroType(value: unknown): value is Type {
  return typeof value === 'object' && value !== null && typeof (value as Type).createResolver === 'function'
}
