import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { limitParam, nextLink, parseBody, parseQuery, timeParam } from './query-params.ts'

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
