import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { hasUnstorableText } from '../lib/json-guard.ts'
import { decodeBody, type BodyLimits, type DecodedBody } from './json-body-parser.ts'

const limits: BodyLimits = { maxBodyBytes: 1024 * 1024, maxDecompressedBytes: 64 * 1024 }
const json = (value: unknown) => Buffer.from(JSON.stringify(value))

async function failure(encoding: string | undefined, body: Buffer, l: BodyLimits = limits) {
  try {
    await decodeBody(encoding, body, l)
  } catch (err) {
    const e = err as { code?: string; statusCode?: number; message: string }
    return { code: e.code, statusCode: e.statusCode, message: e.message }
  }
  throw new Error('decodeBody resolved')
}

describe('decodeBody', () => {
  const value = { events: [{ type: 'log', data: { level: 'info', message: 'héllo' } }] }

  it('parses identity bodies, with or without the header', async () => {
    expect(await decodeBody(undefined, json(value), limits)).toEqual(value)
    expect(await decodeBody('identity', json(value), limits)).toEqual(value)
    expect(await decodeBody('', json(value), limits)).toEqual(value)
  })

  it('says a body may hold unstorable text only when its JSON has a \\u escape, which is the only way in', async () => {
    const decode = async (body: Buffer, encoding?: string) => {
      let seen: DecodedBody | undefined
      const parsed = await decodeBody(encoding, body, limits, (d) => (seen = d))
      return { parsed, seen: seen! }
    }
    expect((await decode(json(value))).seen).toEqual({ bytes: json(value).length, mayHoldUnstorableText: false })
    expect((await decode(gzipSync(json(value)), 'gzip')).seen).toEqual({ bytes: json(value).length, mayHoldUnstorableText: false })
    for (const text of [String.raw`nul \u0000`, String.raw`lone \ud800`, String.raw`low \uDC00 half`, String.raw`plain \u00e9`]) {
      expect((await decode(Buffer.from(`{"k":"${text}"}`))).seen.mayHoldUnstorableText).toBe(true)
    }
    // Raw bytes cannot carry one: a surrogate encoded as UTF-8 (CESU) decodes to U+FFFD, and a raw
    // NUL inside a string is not JSON.
    const cesu = Buffer.concat([Buffer.from('{"k":"a'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('b"}')])
    const { parsed, seen } = await decode(cesu)
    expect(seen.mayHoldUnstorableText).toBe(false)
    expect(hasUnstorableText((parsed as { k: string }).k)).toBe(false)
    expect((await failure(undefined, Buffer.from('{"k":"a\u0000b"}'))).statusCode).toBe(400)
  })

  it('inflates gzip (and x-gzip, any case)', async () => {
    for (const enc of ['gzip', 'x-gzip', ' GZIP ']) expect(await decodeBody(enc, gzipSync(json(value)), limits)).toEqual(value)
  })

  it('stops inflating a gzip bomb at the decompressed limit', async () => {
    // 50 MiB of zeros inside a JSON string: about 50 KB compressed.
    const bomb = gzipSync(Buffer.concat([Buffer.from('{"events":["'), Buffer.alloc(50 * 1024 * 1024, 0x30), Buffer.from('"]}')]))
    expect(bomb.length).toBeLessThan(100 * 1024)
    const started = Date.now()
    expect(await failure('gzip', bomb)).toEqual({
      code: 'SLUICE_ERR_DECOMPRESSED_TOO_LARGE',
      statusCode: 413,
      message: `Body exceeds ${limits.maxDecompressedBytes} bytes once decompressed`,
    })
    expect(Date.now() - started).toBeLessThan(1000)
  })

  it('accepts a gzip body exactly at the decompressed limit', async () => {
    const body = Buffer.concat([Buffer.from('"'), Buffer.alloc(limits.maxDecompressedBytes - 2, 0x61), Buffer.from('"')])
    expect(body.length).toBe(limits.maxDecompressedBytes)
    expect(await decodeBody('gzip', gzipSync(body), limits)).toHaveLength(limits.maxDecompressedBytes - 2)
  })

  it('refuses corrupt and truncated gzip as an invalid body', async () => {
    const expected = { code: 'SLUICE_ERR_INVALID_BODY', statusCode: 400, message: 'Body is not valid gzip' }
    expect(await failure('gzip', json(value))).toEqual(expected)
    const gz = gzipSync(json(value))
    expect(await failure('gzip', gz.subarray(0, gz.length - 10))).toEqual(expected)
  })

  it('refuses encodings other than gzip and identity with 415', async () => {
    expect(await failure('br', json(value))).toEqual({
      code: 'SLUICE_ERR_UNSUPPORTED_ENCODING',
      statusCode: 415,
      message: 'Content-Encoding br is not supported; send gzip or identity',
    })
    expect((await failure('deflate', json(value))).code).toBe('SLUICE_ERR_UNSUPPORTED_ENCODING')
    expect((await failure('gzip, br', json(value))).code).toBe('SLUICE_ERR_UNSUPPORTED_ENCODING')
  })

  it('refuses __proto__ anywhere and constructor.prototype', async () => {
    const forbidden = {
      code: 'SLUICE_ERR_FORBIDDEN_PROPERTY',
      statusCode: 400,
      message: 'Body contains a forbidden property name (__proto__ or constructor.prototype)',
    }
    expect(await failure(undefined, Buffer.from('{"__proto__": {"admin": true}, "events": []}'))).toEqual(forbidden)
    expect(await failure(undefined, Buffer.from('{"events": [{"type": "log", "data": {"a": {"__proto__": {"x": 1}}}}]}'))).toEqual(forbidden)
    expect(await failure(undefined, Buffer.from('{"events": [{"constructor": {"prototype": {"x": 1}}}]}'))).toEqual(forbidden)
    expect(await failure('gzip', gzipSync('{"events": [{"__proto__": null}]}'))).toEqual(forbidden)
    // A plain "constructor" key, or "prototype" elsewhere, is ordinary data.
    expect(await decodeBody(undefined, Buffer.from('{"constructor": "x", "prototype": 1}'), limits)).toEqual({ constructor: 'x', prototype: 1 })
  })

  it('refuses an empty body and malformed JSON as invalid JSON', async () => {
    expect(await failure(undefined, Buffer.alloc(0))).toEqual({
      code: 'SLUICE_ERR_INVALID_JSON',
      statusCode: 400,
      message: 'Body is not valid JSON: empty body',
    })
    expect(await failure('gzip', gzipSync(Buffer.alloc(0)))).toMatchObject({ code: 'SLUICE_ERR_INVALID_JSON' })
    expect(await failure(undefined, Buffer.from('{"events": ['))).toMatchObject({ code: 'SLUICE_ERR_INVALID_JSON', statusCode: 400 })
  })
})
