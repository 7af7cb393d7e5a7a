import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestSluice, type TestProject, type TestSluice } from './helpers/test-sluice.ts'

interface Log {
  id: string
  timestamp: string
  level: string
  service: string | null
  message: string
  attributes: Record<string, unknown>
  run_id: string | null
  received_at: string
}

describe('logs end to end', () => {
  let sluice: TestSluice
  let project: TestProject
  const t0 = Date.UTC(2026, 10, 21, 12, 0, 0)
  const runId = randomUUID()
  // 60 logs over 30 minutes: levels and services in a fixed rotation, so the expected answers are countable.
  const LEVELS = ['debug', 'info', 'warning', 'error', 'critical'] as const
  const NORMAL = { warning: 'warn', critical: 'fatal' } as Record<string, string>
  const logs = Array.from({ length: 60 }, (_, i) => ({
    id: randomUUID(),
    level: LEVELS[i % 5]!,
    message: i % 7 === 0 ? `Payment TIMEOUT for order ${i}` : `request ${i} served`,
    service: i % 2 === 0 ? 'checkout' : 'search',
    attributes: { region: i % 3 === 0 ? 'eu' : 'us', attempt: i, cached: i % 4 === 0 },
    ...(i % 10 === 0 ? { run_id: runId } : {}),
    timestamp: new Date(t0 + i * 30_000).toISOString(),
  }))
  const level = (l: (typeof logs)[number]) => NORMAL[l.level] ?? l.level

  beforeAll(async () => {
    sluice = await startTestSluice()
    project = await sluice.createProject()
    // Half through POST /api/logs (array and single object), half through /ingest, plus resends.
    const viaApi = logs.slice(0, 30)
    expect((await sluice.post('/api/logs', { key: project.ingest_key, body: viaApi.slice(0, 29) })).body).toEqual({ status: 'ok', processed: 29 })
    expect((await sluice.post('/api/logs', { key: project.ingest_key, body: viaApi[29] })).body).toEqual({ status: 'ok', processed: 1 })
    const events = logs.slice(30).map(({ id, ...data }) => ({ id, type: 'log', data }))
    expect((await sluice.post('/ingest', { key: project.ingest_key, body: { events } })).status).toBe(200)
    expect((await sluice.post('/api/logs', { key: project.ingest_key, body: logs.slice(0, 10) })).status).toBe(200)
    expect((await sluice.post('/ingest', { key: project.ingest_key, body: { events: events.slice(0, 10) } })).status).toBe(200)
    await sluice.waitUntilProcessed()
  })

  afterAll(async () => {
    await sluice?.close()
  })

  async function all(query: string): Promise<Log[]> {
    const out: Log[] = []
    let path: string | null = `/api/logs?${query}`
    while (path) {
      const res: { status: number; headers: Headers; body: Log[] } = await sluice.get<Log[]>(path, { key: project.query_key })
      expect(res.status).toBe(200)
      out.push(...res.body)
      path = /<([^>]+)>; rel="next"/.exec(res.headers.get('link') ?? '')?.[1] ?? null
    }
    return out
  }

  it('lists every log once, newest first, across pages, with its fields', async () => {
    const got = await all('limit=7')
    expect(got.map((l) => l.id)).toEqual([...logs].reverse().map((l) => l.id))
    const sample = got.find((l) => l.id === logs[10]!.id)!
    expect(sample).toMatchObject({
      level: 'debug',
      service: 'checkout',
      message: 'request 10 served',
      attributes: { region: 'us', attempt: 10, cached: false },
      run_id: runId,
      timestamp: logs[10]!.timestamp,
    })
  })

  it('filters by level list, min_level, service, q, run_id and time', async () => {
    const ids = (ls: Array<{ id: string }>) => ls.map((l) => l.id).sort()
    expect(ids(await all('level=error,fatal&limit=1000'))).toEqual(ids(logs.filter((l) => ['error', 'fatal'].includes(level(l)))))
    expect(ids(await all('level=warning&limit=1000'))).toEqual(ids(logs.filter((l) => level(l) === 'warn')))
    expect(ids(await all('min_level=warn&limit=1000'))).toEqual(ids(logs.filter((l) => ['warn', 'error', 'fatal'].includes(level(l)))))
    expect(ids(await all('service=search&limit=1000'))).toEqual(ids(logs.filter((l) => l.service === 'search')))
    expect(ids(await all('q=payment%20timeout&limit=1000'))).toEqual(ids(logs.filter((l) => l.message.includes('TIMEOUT'))))
    expect(ids(await all(`run_id=${runId}`))).toEqual(ids(logs.filter((l) => 'run_id' in l)))
    const from = t0 + 10 * 30_000
    const to = t0 + 20 * 30_000
    expect(ids(await all(`from=${from}&to=${new Date(to).toISOString()}`))).toEqual(ids(logs.slice(10, 20)))
  })

  it('counts logs per interval and level', async () => {
    const res = await sluice.get<Array<{ ts: string; level: string; count: number }>>(
      `/api/logs/stats?interval=10m&from=${t0}&to=${t0 + 3_600_000}&service=checkout`,
      { key: project.query_key },
    )
    expect(res.status).toBe(200)
    const expected = new Map<string, number>()
    for (const l of logs.filter((x) => x.service === 'checkout')) {
      const bucket = new Date(Math.floor(Date.parse(l.timestamp) / 600_000) * 600_000).toISOString()
      const k = `${bucket}|${level(l)}`
      expected.set(k, (expected.get(k) ?? 0) + 1)
    }
    const got = new Map(res.body.map((r) => [`${r.ts}|${r.level}`, r.count]))
    expect(got).toEqual(expected)
    const bad = await sluice.get<{ code: string }>('/api/logs/stats?interval=7x', { key: project.query_key })
    expect(bad.status).toBe(400)
    expect(bad.body.code).toBe('SLUICE_ERR_VALIDATION')
  })

  it('keeps projects apart and refuses the wrong key kind', async () => {
    const stranger = await sluice.createProject()
    expect((await sluice.get('/api/logs', { key: stranger.query_key })).body).toEqual([])
    expect((await sluice.get('/api/logs', { key: project.ingest_key })).status).toBe(403)
    expect((await sluice.post('/api/logs', { key: project.query_key, body: logs[0] })).status).toBe(403)
  })

  it('answers POST /api/logs like /ingest for bad logs', async () => {
    const res = await sluice.post<{ status: string; processed: number; errors: Array<{ index: number; code: string }> }>('/api/logs', {
      key: project.ingest_key,
      body: [{ level: 'error', message: 'ok' }, { level: 'loud', message: 'x' }, { message: 'no level' }],
    })
    expect(res.status).toBe(207)
    expect(res.body.processed).toBe(1)
    expect(res.body.errors.map((e) => [e.index, e.code])).toEqual([
      [1, 'SLUICE_ERR_INVALID_EVENT'],
      [2, 'SLUICE_ERR_INVALID_EVENT'],
    ])
    const none = await sluice.post<{ code: string; errors: unknown[] }>('/api/logs', { key: project.ingest_key, body: [{ level: 'nope', message: 'x' }] })
    expect(none.status).toBe(400)
    expect(none.body.code).toBe('SLUICE_ERR_NO_VALID_EVENTS')
  })
})
