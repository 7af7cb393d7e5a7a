import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { z } from 'zod'
import { InvalidCursorError } from '../lib/errors.ts'

/**
 * Page cursors that only Sluice can make: the position as base64url JSON, a dot, and a 128-bit
 * HMAC of it. A cursor that was edited, truncated or made up is refused (400
 * SLUICE_ERR_INVALID_CURSOR) before its position is even read, and the position is then checked
 * against the shape the list issues, so nothing a client invents reaches a store.
 *
 * @example
 *   const cursors = createCursorCodec(cursorKey(config.adminToken))
 *   const next = cursors.encode([createdAt, id]); cursors.decode(z.tuple([z.string(), z.guid()]), next)
 */
export interface CursorCodec {
  encode(position: unknown): string
  /** The position of a cursor this codec made, checked against `schema`; null when there is none. */
  decode<T extends z.ZodType>(schema: T, cursor: string | undefined): z.infer<T> | null
}

const MAC_BYTES = 16

export function createCursorCodec(key: Buffer): CursorCodec {
  const mac = (body: string) => createHmac('sha256', key).update(body).digest().subarray(0, MAC_BYTES)
  return {
    encode(position) {
      const body = Buffer.from(JSON.stringify(position)).toString('base64url')
      return `${body}.${mac(body).toString('base64url')}`
    },
    decode(schema, cursor) {
      if (cursor === undefined) return null
      const [body, tag, extra] = cursor.split('.')
      const given = Buffer.from(tag ?? '', 'base64url')
      if (body === undefined || extra !== undefined || given.length !== MAC_BYTES || !timingSafeEqual(given, mac(body))) throw new InvalidCursorError()
      try {
        const parsed = schema.safeParse(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')))
        if (parsed.success) return parsed.data
      } catch {
        // fall through
      }
      throw new InvalidCursorError()
    },
  }
}

/**
 * The key of a deployment's cursors. Every query process of a deployment shares the admin token,
 * so a cursor from one is good on the others; the token itself never leaves this hash. Without a
 * token the key is random, and cursors are good only on the process that made them.
 */
export function cursorKey(adminToken: string | undefined): Buffer {
  return adminToken ? createHmac('sha256', adminToken).update('sluice page cursors v1').digest() : randomBytes(32)
}
