import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  expectedAnalysis,
  expectedPipelineFunnel,
  generateRun,
  prng,
  shuffledBatches,
  type GeneratedRun,
} from './fixtures/pipeline-runs.ts'
import { startTestSluice, type TestProject, type TestSluice } from './helpers/test-sluice.ts'
import { expectAnalysis, expectFunnel } from './helpers/expect-funnel.ts'

// End to end on the real services: /ingest → Kafka (Avro) → runs-funnel processor → ClickHouse →
// query API, with events shuffled across batches, steps before their run_start, and resends.
describe('runs and funnels end to end', () => {
  let sluice: TestSluice
  let project: TestProject
  const rand = prng(20261122)
  const HOUR = 3_600_000
  // Runs spread over three hours, so the funnel reads whole hours from the rollup and edges raw.
  const base = Math.floor(Date.UTC(2026, 10, 20, 9, 0, 0) / HOUR) * HOUR
  const runs: GeneratedRun[] = Array.from({ length: 40 }, (_, i) => generateRun(rand, 'recs', base + i * 4.5 * 60_000 + 1234))
  const other: GeneratedRun[] = Array.from({ length: 5 }, (_, i) => generateRun(rand, 'search', base + i * 60_000))

  beforeAll(async () => {
    sluice = await startTestSluice()
    project = await sluice.createProject()
    const events = [...runs, ...other].flatMap((r) => r.events)
    for (const batch of shuffledBatches(events, rand, 37, 0.15)) {
      const res = await sluice.post('/ingest', { key: project.ingest_key, body: { events: batch }, gzip: batch.length % 2 === 0 })
      expect(res.status).toBe(200)
      expect(res.body).toEqual({ status: 'ok', processed: batch.length })
    }
    await sluice.waitUntilProcessed()
  })

  afterAll(async () => {
    await sluice?.close()
  })

  it('answers /analyze with every number of the run', async () => {
    for (const run of runs.slice(0, 10)) {
      const expected = expectedAnalysis(run)
      const res = await sluice.get<Record<string, any>>(`/analyze/${run.run_id}`, { key: project.query_key })
      expect(res.status).toBe(200)
      expectAnalysis(res.body, expected)
    }
  })

  it('answers /pipelines/{name}/funnel over all time with exact sums', async () => {
    const res = await sluice.get<any[]>('/pipelines/recs/funnel', { key: project.query_key })
    expect(res.status).toBe(200)
    expectFunnel(res.body, expectedPipelineFunnel(runs))
  })

  it('answers /pipelines/{name}/funnel for a range cutting through hours', async () => {
    const from = base + 25 * 60_000
    const to = base + 2 * HOUR + 10 * 60_000
    const inRange = runs.filter((r) => r.started_at >= from && r.started_at < to)
    expect(inRange.length).toBeGreaterThan(10)
    const res = await sluice.get<any[]>(`/pipelines/recs/funnel?from=${new Date(from).toISOString()}&to=${to}`, { key: project.query_key })
    expect(res.status).toBe(200)
    expectFunnel(res.body, expectedPipelineFunnel(inRange))
  })

  it('keeps funnel quantiles within the observed durations, from the rollup and from raw edge hours', async () => {
    // Three runs whose one step each took exactly 100 ms: the 1 % histogram's bucket middle is
    // 99.686, outside what was observed.
    const t0 = base + 2 * HOUR
    const events = [0, 1, 2].flatMap((i) => {
      const runId = crypto.randomUUID()
      const start = t0 + i * 1000
      return [
        { id: crypto.randomUUID(), type: 'run_start', timestamp: start, data: { run_id: runId, name: 'flat', started_at: start } },
        {
          id: crypto.randomUUID(), type: 'step_complete', timestamp: start + 100,
          data: { step_id: crypto.randomUUID(), run_id: runId, name: 'only', type: 'logic', started_at: start, completed_at: start + 100 },
        },
      ]
    })
    expect((await sluice.post('/ingest', { key: project.ingest_key, body: { events } })).status).toBe(200)
    await sluice.waitUntilProcessed()
    for (const range of ['', `?from=${t0 + 500}&to=${t0 + HOUR}`]) {
      const res = await sluice.get<Array<{ runs: number; p50_duration_ms: number; p95_duration_ms: number }>>(`/pipelines/flat/funnel${range}`, { key: project.query_key })
      expect(res.status).toBe(200)
      expect(res.body).toHaveLength(1)
      expect(res.body[0]).toMatchObject({ runs: range ? 2 : 3, p50_duration_ms: 100, p95_duration_ms: 100 })
    }
  })

  it('lists runs newest first with Link paging that visits every run once', async () => {
    const seen: string[] = []
    let path: string | null = '/runs?name=recs&limit=7'
    while (path) {
      const res: { headers: Headers; status: number; body: Array<{ id: string }> } = await sluice.get<Array<{ id: string }>>(path, {
        key: project.query_key,
      })
      expect(res.status).toBe(200)
      seen.push(...res.body.map((r) => r.id))
      path = /<([^>]+)>; rel="next"/.exec(res.headers.get('link') ?? '')?.[1] ?? null
    }
    const expected = [...runs].sort((a, b) => b.started_at - a.started_at).map((r) => r.run_id)
    expect(seen).toEqual(expected)
  })

  it('filters runs by status, tag and time', async () => {
    const failed = await sluice.get<Array<{ id: string; status: string }>>('/runs?name=recs&status=failed&limit=1000', { key: project.query_key })
    expect(failed.body.map((r) => r.id).sort()).toEqual(runs.filter((r) => r.status === 'failed').map((r) => r.run_id).sort())
    const tagged = await sluice.get<unknown[]>('/runs?tag=env:test&limit=1000', { key: project.query_key })
    expect(tagged.body).toHaveLength(runs.length + other.length)
    const none = await sluice.get<unknown[]>('/runs?tag=env:prod', { key: project.query_key })
    expect(none.body).toEqual([])
    const from = runs[10]!.started_at
    const to = runs[20]!.started_at
    const ranged = await sluice.get<Array<{ id: string }>>(`/runs?name=recs&from=${from}&to=${to}`, { key: project.query_key })
    expect(ranged.body.map((r) => r.id).sort()).toEqual(runs.slice(10, 20).map((r) => r.run_id).sort())
  })

  it('returns steps in run order and 404 for another project', async () => {
    const run = runs[3]!
    const steps = await sluice.get<Array<{ id: string }>>(`/runs/${run.run_id}/steps`, { key: project.query_key })
    expect(steps.body.map((s) => s.id)).toEqual(run.steps.map((s) => s.step_id))
    const stranger = await sluice.createProject()
    for (const path of [`/runs/${run.run_id}`, `/runs/${run.run_id}/steps`, `/analyze/${run.run_id}`]) {
      const res = await sluice.get<{ code: string }>(path, { key: stranger.query_key })
      expect(res.status).toBe(404)
      expect(res.body.code).toBe('SLUICE_ERR_NOT_FOUND')
    }
    const funnel = await sluice.get('/pipelines/recs/funnel', { key: stranger.query_key })
    expect(funnel.body).toEqual([])
  })
})
