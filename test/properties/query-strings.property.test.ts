import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { propertyRuns, startPropertyApp } from '../helpers/property-app.ts'
import { anyText, anyTime, jsonish, uuid } from './arbitraries.ts'

// Any query string to every list route: never a 5xx, never a hang, a Sluice code on every refusal,
// and the server healthy after. Real ClickHouse (or chdb) and Postgres behind them.

const RUNS = propertyRuns(300)
const TIMEOUT_MS = Math.max(60_000, RUNS * 200)

const PARAMS = ['limit', 'cursor', 'from', 'to', 'name', 'status', 'tag', 'level', 'min_level', 'service', 'q', 'run_id', 'interval']

/** Percent-encodes the UTF-8 bytes of `s` (a lone surrogate becomes U+FFFD, as a browser does). */
const pct = (bytes: Uint8Array) => [...bytes].map((b) => (/[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`)).join('')
const encode = (s: string) => pct(Buffer.from(s, 'utf8'))

const cursorJson = fc.oneof(
  fc.tuple(fc.oneof(fc.integer(), fc.double(), anyTime), fc.oneof(uuid, anyText)),
  fc.tuple(anyText, anyText),
  fc.oneof(fc.integer(), fc.double()),
  jsonish,
)
const cursor = fc.oneof(
  { weight: 4, arbitrary: cursorJson.map((v) => Buffer.from(JSON.stringify(v) ?? 'null').toString('base64url')) },
  { weight: 1, arbitrary: anyText },
)
const value = fc.oneof(anyText, anyTime.map(String), fc.integer().map(String), cursor, fc.constantFrom('0', '-1', '1001', '1e3', 'NaN', '1m', '0s', '32d', 'env:prod', ':', 'error,warn'))
/** Each known parameter with a value of its kind or any other, present or not; then any others. */
const knownParams = fc.record(
  {
    limit: fc.oneof(fc.integer({ min: -5, max: 2000 }).map(String), value),
    cursor,
    from: fc.oneof(anyTime.map(String), value),
    to: fc.oneof(anyTime.map(String), value),
    name: value,
    status: fc.oneof(fc.constantFrom('open', 'resolved', 'RUNNING', 'completed', 'failed'), value),
    tag: value,
    level: fc.oneof(fc.constantFrom('error', 'warn,info', 'critical'), value),
    min_level: value,
    service: value,
    q: value,
    run_id: fc.oneof(uuid, value),
    interval: fc.oneof(fc.constantFrom('1m', '30s', '1d', '0s', '100d'), value),
  },
  { requiredKeys: [] },
)
const queryString = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(knownParams, fc.array(fc.tuple(fc.oneof(fc.constantFrom(...PARAMS), anyText), value), { maxLength: 3 }))
      .map(([known, extra]) => [...Object.entries(known), ...extra].map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&')),
  },
  // Bytes that are not UTF-8, stray % and separators.
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...PARAMS), fc.uint8Array({ maxLength: 30 })).map(([k, b]) => `${k}=${pct(b)}`) },
  { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '&&&', '===', 'limit', 'limit=10&limit=20', 'tag=a:b&tag=c:d', 'cursor=') },
)

describe('list routes take any query string without a 5xx', () => {
  let target: Awaited<ReturnType<typeof startPropertyApp>>
  let lists: string[]

  beforeAll(async () => {
    target = await startPropertyApp()
    const p = target.project.id
    lists = ['/runs', `/runs/${randomUUID()}/steps`, '/api/logs', '/api/logs/stats', `/api/reactions/${p}`, `/api/complaints/${p}`, `/api/complaints/${randomUUID()}/deliveries`, '/pipelines/recs/funnel']
  })
  afterAll(async () => {
    await target?.close()
  })

  it('every list route, and the funnel under any pipeline name', { timeout: TIMEOUT_MS }, async () => {
    const path = fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0, max: 7 }).map((i) => lists[i]!) },
      { weight: 1, arbitrary: anyText.map((n) => `/pipelines/${encode(n) || 'x'}/funnel`) },
    )
    await fc.assert(
      fc.asyncProperty(path, queryString, async (p, q) => {
        await target.expectSane({ method: 'GET', url: `${p}?${q}`, headers: { authorization: `Bearer ${target.project.query_key}` } })
      }),
      { numRuns: RUNS },
    )
    for (const route of ['GET /runs', 'GET /api/logs', 'GET /pipelines/recs/funnel']) expect(target.statusesOf(route)).toEqual(expect.arrayContaining([200, 400]))
    expect(await target.expectHealthy()).toEqual([200, 200])
  })
})
