import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { cursorId, cursorIsoTime, cursorTime, decodeCursor, encodeCursor, limitParam, nextLink, parseBody, parseQuery, timeParam } from './query-params.ts'

describe('timeParam', () => {
  const originalTz = process.env.TZ
  afterEach(() => {
    if (originalTz === undefined) delete process.env.TZ
    else process.env.TZ = originalTz
  })

  it('reads epoch milliseconds and ISO-8601 with a zone', () => {
    expect(timeParam.parse('1763773323456')).toBe(1_763_773_323_456)
    expect(timeParam.parse('0')).toBe(0)
    expect(timeParam.parse('2026-11-22T01:02:03.456Z')).toBe(Date.UTC(2026, 10, 22, 1, 2, 3, 456))
    expect(timeParam.parse('2026-11-22T03:02:03.456+02:00')).toBe(Date.UTC(2026, 10, 22, 1, 2, 3, 456))
    expect(timeParam.parse('2026-11-22')).toBe(Date.UTC(2026, 10, 22))
  })

  it('refuses what is not a time', () => {
    for (const s of ['', 'yesterday', '2026-13-45', '-5', '1.5', '2026-11-22T01:02:03Zjunk']) {
      expect(timeParam.safeParse(s).success, s).toBe(false)
    }
    expect(timeParam.safeParse('yesterday').error?.issues[0]?.message).toBe('must be an ISO-8601 time or epoch milliseconds')
  })

  // Regression: a date-time without a zone was read in the server's local time zone, so the same
  // URL meant different instants on differently configured hosts.
  it('does not depend on the server time zone', () => {
    process.env.TZ = 'America/New_York'
    for (const s of ['2026-11-22T01:02:03.456Z', '2026-11-22', '1763773323456']) {
      const inNewYork = timeParam.safeParse(s)
      process.env.TZ = 'UTC'
      const inUtc = timeParam.safeParse(s)
      process.env.TZ = 'America/New_York'
      expect(inNewYork, s).toEqual(inUtc)
    }
    expect(timeParam.safeParse('2026-11-22T01:02:03').success).toBe(false)
  })
})

describe('limitParam and parseQuery', () => {
  const schema = z.object({ limit: limitParam, from: timeParam.optional() })

  it('defaults limit to 100 and bounds it to 1..1000', () => {
    expect(parseQuery(schema, {})).toEqual({ limit: 100 })
    expect(parseQuery(schema, { limit: '1000' }).limit).toBe(1000)
    expect(() => parseQuery(schema, { limit: '1001' })).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_VALIDATION', statusCode: 400 }))
    expect(() => parseQuery(schema, { limit: '0' })).toThrow(/^limit: /)
  })

  it('names the bad parameter', () => {
    expect(() => parseQuery(schema, { from: 'soon' })).toThrow('from: must be an ISO-8601 time or epoch milliseconds')
  })
})

describe('cursors', () => {
  const cursorSchema = z.object({ t: z.number(), id: z.string() })
  const cursor = { t: 1_763_773_323_456, id: '0b6f4a52-3c1e-4a8e-9d1f-6a7b8c9d0e1f' }

  it('round-trips a value through an opaque, URL-safe string', () => {
    const encoded = encodeCursor(cursor)
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(decodeCursor(cursorSchema, encoded)).toEqual(cursor)
    expect(decodeCursor(cursorSchema, undefined)).toBeNull()
  })

  it('refuses a tampered cursor with SLUICE_ERR_INVALID_CURSOR', () => {
    const encoded = encodeCursor(cursor)
    const tampered = [
      encoded.slice(0, -3),
      `x${encoded}`,
      encodeCursor({ t: 'now', id: cursor.id }),
      encodeCursor([1, 2]),
      '%%%',
      '',
    ]
    for (const c of tampered) {
      expect(() => decodeCursor(cursorSchema, c), c).toThrow(
        expect.objectContaining({ code: 'SLUICE_ERR_INVALID_CURSOR', statusCode: 400, message: 'The cursor is not one this API issued' }),
      )
    }
  })
})

describe('nextLink', () => {
  it('keeps the path and every other parameter, repeated ones included, and replaces the cursor', () => {
    const link = nextLink('/runs?name=recs&tag=env:test&tag=team:a&limit=7&cursor=old', 'NEW')
    expect(link).toMatch(/^<([^>]+)>; rel="next"$/)
    const url = new URL(/^<([^>]+)>/.exec(link)![1]!, 'http://x')
    expect(url.pathname).toBe('/runs')
    expect(url.searchParams.get('name')).toBe('recs')
    expect(url.searchParams.getAll('tag')).toEqual(['env:test', 'team:a'])
    expect(url.searchParams.get('limit')).toBe('7')
    expect(url.searchParams.getAll('cursor')).toEqual(['NEW'])
  })

  it('adds a cursor to a URL without a query', () => {
    expect(nextLink('/api/logs', 'abc')).toBe('</api/logs?cursor=abc>; rel="next"')
  })
})

describe('contract v2 edges', () => {
  it('refuses times outside 1970 … 2199 (a funnel bound in year 0 was a 500)', () => {
    for (const s of ['0000-01-01', '0000-01-01T00:00:00Z', '1969-12-31T23:59:59Z', '2200-01-01', '999999999999999']) {
      expect(timeParam.safeParse(s).error?.issues[0]?.message, s).toBe('must be between 1970-01-01 and 2199-12-31')
    }
    expect(timeParam.parse('2199-12-31T23:59:59.999Z')).toBe(Date.UTC(2200, 0, 1) - 1)
  })

  it('refuses cursors of the right shape with values no list issues (they reached Postgres as a 500)', () => {
    const pgCursor = z.tuple([cursorIsoTime, cursorId])
    const chCursor = z.tuple([cursorTime, cursorId])
    const id = '6f1c0b7e-2a4d-4c1e-9b7a-3d2f1e0c9b8a'
    expect(decodeCursor(pgCursor, encodeCursor(['2026-11-22T01:02:03.456Z', id]))).toEqual(['2026-11-22T01:02:03.456Z', id])
    for (const forged of [['', ''], ['x', id], ['2026-11-22T01:02:03.456Z', 'x'], ['0000-01-01T00:00:00Z', id]]) {
      expect(() => decodeCursor(pgCursor, encodeCursor(forged)), JSON.stringify(forged)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_INVALID_CURSOR' }))
    }
    for (const forged of [[-1, id], [1e300, id], [1.5, id], [0, 'x']]) {
      expect(() => decodeCursor(chCursor, encodeCursor(forged)), JSON.stringify(forged)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_INVALID_CURSOR' }))
    }
  })

  it('refuses bodies with NUL, unpaired surrogates or more than 64 levels, naming the field', () => {
    const schema = z.object({ note: z.unknown() })
    expect(() => parseBody(schema, { note: 'a\u0000' })).toThrow('note: must not contain NUL characters or unpaired surrogates')
    expect(() => parseBody(schema, { note: ['\uD800'] })).toThrow('note.0: must not contain NUL characters or unpaired surrogates')
    let deep: unknown = 1
    for (let i = 0; i < 100; i++) deep = [deep]
    expect(() => parseBody(schema, { note: deep })).toThrow(/nests deeper than 64 levels/)
    expect(parseBody(schema, { note: 'ok \uD83D\uDE00' })).toEqual({ note: 'ok \uD83D\uDE00' })
  })
})
