import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { propertyRuns, startPropertyApp } from '../helpers/property-app.ts'
import { anyText, anyTime, jsonish, uuid } from './arbitraries.ts'

// Any query string to every list route: never a 5xx, never a hang, a Sluice code on every refusal,
// and the server healthy after. Real ClickHouse (or chdb) and Postgres behind them.

const RUNS = propertyRuns(300)
const TIMEOUT_MS = Math.max(60_000, RUNS * 50)

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

// Each list is an entry point of its own. `ok`: it must have answered 200 at least once (the
// generator reaches the store, not only the validation); an unknown run or complaint is a 404.
const LISTS: Array<{ route: string; path: (projectId: string) => string; ok: boolean }> = [
  { route: '/runs', path: () => '/runs', ok: true },
  { route: '/runs/{id}/steps', path: () => `/runs/${randomUUID()}/steps`, ok: false },
  { route: '/api/logs', path: () => '/api/logs', ok: true },
  { route: '/api/logs/stats', path: () => '/api/logs/stats', ok: true },
  { route: '/api/reactions/{project_id}', path: (p) => `/api/reactions/${p}`, ok: true },
  { route: '/api/complaints/{project_id}', path: (p) => `/api/complaints/${p}`, ok: true },
  { route: '/api/complaints/{id}/deliveries', path: () => `/api/complaints/${randomUUID()}/deliveries`, ok: false },
  { route: '/pipelines/{name}/funnel', path: () => '/pipelines/recs/funnel', ok: true },
]

describe('list routes take any query string without a 5xx', () => {
  let target: Awaited<ReturnType<typeof startPropertyApp>>

  beforeAll(async () => {
    target = await startPropertyApp()
  })
  afterAll(async () => {
    await target?.close()
  })

  const get = (url: string) => target.expectSane({ method: 'GET', url, headers: { authorization: `Bearer ${target.project.query_key}` } })

  for (const list of LISTS) {
    it(`GET ${list.route}`, { timeout: TIMEOUT_MS }, async () => {
      const statuses = new Set<number>()
      await fc.assert(
        fc.asyncProperty(queryString, async (q) => {
          statuses.add((await get(`${list.path(target.project.id)}?${q}`)).statusCode)
        }),
        { numRuns: RUNS },
      )
      expect([...statuses]).toEqual(expect.arrayContaining(list.ok ? [200, 400] : [400, 404]))
      expect(await target.expectHealthy()).toEqual([200, 200])
    })
  }

  it('GET /pipelines/{name}/funnel under any pipeline name', { timeout: TIMEOUT_MS }, async () => {
    await fc.assert(
      fc.asyncProperty(anyText, queryString, async (name, q) => {
        await get(`/pipelines/${encode(name) || 'x'}/funnel?${q}`)
      }),
      { numRuns: RUNS },
    )
    expect(await target.expectHealthy()).toEqual([200, 200])
  })
})
