import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createCursorCodec, cursorKey } from './cursor-codec.ts'
import { cursorId, cursorIsoTime, cursorTime } from './query-params.ts'

const INVALID = expect.objectContaining({ code: 'SLUICE_ERR_INVALID_CURSOR', statusCode: 400, message: 'The cursor is not one this API issued' })
const unsigned = (position: unknown) => Buffer.from(JSON.stringify(position)).toString('base64url')

describe('cursors', () => {
  const cursors = createCursorCodec(cursorKey('test-admin-token-0123456789'))
  const cursorSchema = z.object({ t: z.number(), id: z.string() })
  const cursor = { t: 1_763_773_323_456, id: '0b6f4a52-3c1e-4a8e-9d1f-6a7b8c9d0e1f' }

  it('round-trips a value through an opaque, URL-safe string', () => {
    const encoded = cursors.encode(cursor)
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
    expect(cursors.decode(cursorSchema, encoded)).toEqual(cursor)
    expect(cursors.decode(cursorSchema, undefined)).toBeNull()
  })

  it('is good on every process with the same admin token, and on no other deployment', () => {
    const encoded = cursors.encode(cursor)
    expect(createCursorCodec(cursorKey('test-admin-token-0123456789')).decode(cursorSchema, encoded)).toEqual(cursor)
    expect(() => createCursorCodec(cursorKey('another-admin-token-0123456')).decode(cursorSchema, encoded)).toThrow(INVALID)
  })

  it('refuses a tampered cursor with SLUICE_ERR_INVALID_CURSOR', () => {
    const encoded = cursors.encode(cursor)
    const [body, tag] = encoded.split('.') as [string, string]
    const tampered = [
      encoded.slice(0, -3),
      `x${encoded}`,
      `${unsigned({ t: 1, id: cursor.id })}.${tag}`,
      `${body}.${tag}.x`,
      cursors.encode({ t: 'now', id: cursor.id }),
      cursors.encode([1, 2]),
      '%%%',
      '',
      '.',
    ]
    for (const c of tampered) expect(() => cursors.decode(cursorSchema, c), c).toThrow(INVALID)
  })

  // A made-up cursor of the right shape was taken as a position (and on reactions and complaints,
  // one of the wrong shape reached Postgres as a 500).
  it('refuses a cursor Sluice did not make, however well-formed', () => {
    const id = '6f1c0b7e-2a4d-4c1e-9b7a-3d2f1e0c9b8a'
    const pgCursor = z.tuple([cursorIsoTime, cursorId])
    expect(() => cursors.decode(pgCursor, unsigned(['2026-11-22T01:02:03.456Z', id]))).toThrow(INVALID)
    expect(cursors.decode(pgCursor, cursors.encode(['2026-11-22T01:02:03.456Z', id]))).toEqual(['2026-11-22T01:02:03.456Z', id])
  })

  it('checks the position against the shape the list issues, signed or not', () => {
    const id = '6f1c0b7e-2a4d-4c1e-9b7a-3d2f1e0c9b8a'
    const pgCursor = z.tuple([cursorIsoTime, cursorId])
    const chCursor = z.tuple([cursorTime, cursorId])
    for (const forged of [['', ''], ['x', id], ['2026-11-22T01:02:03.456Z', 'x'], ['0000-01-01T00:00:00Z', id]]) {
      expect(() => cursors.decode(pgCursor, cursors.encode(forged)), JSON.stringify(forged)).toThrow(INVALID)
    }
    for (const forged of [[-1, id], [1e300, id], [1.5, id], [0, 'x']]) {
      expect(() => cursors.decode(chCursor, cursors.encode(forged)), JSON.stringify(forged)).toThrow(INVALID)
    }
  })
})
