import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestSluice, type TestProject, type TestSluice } from './helpers/test-sluice.ts'
import { waitFor } from './helpers/wait-for.ts'

const rule = {
  name: 'errors of checkout',
  event_type: 'log',
  conditions: [{ field: 'service', op: 'eq', value: 'checkout' }],
  threshold: { count: 3, window_seconds: 120 },
  group_by: ['service'],
  severity: 'warning',
  actions: [{ type: 'complaint' }],
}

const log = () => ({ id: randomUUID(), type: 'log', data: { level: 'error', message: 'timeout', service: 'checkout' } })

/** The value of one series in Prometheus text, 0 when absent. */
function seriesValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line ? Number(line.slice(series.length + 1)) : 0
}

// The same behaviour with reactions in a worker thread (the default) and on the main thread.
describe.each([
  ['in a worker thread', 'true'],
  ['on the main thread', 'false'],
])('reactions %s', (_label, threads) => {
  let sluice: TestSluice
  let project: TestProject

  beforeAll(async () => {
    sluice = await startTestSluice({ env: { SLUICE_PROCESSOR_THREADS: threads } })
    project = await sluice.createProject()
    const created = await sluice.post('/api/reactions', { key: project.query_key, body: rule })
    expect(created.status).toBe(201)
  })

  afterAll(async () => {
    await sluice?.close()
  })

  it('opens the complaint, reports liveness in /ready and its metrics in /metrics', async () => {
    const res = await sluice.post('/ingest', { key: project.ingest_key, body: { events: [log(), log(), log(), log()] } })
    expect(res.status).toBe(200)
    await sluice.waitUntilProcessed()

    const complaints = await waitFor(async () => {
      const r = await sluice.get<Array<{ occurrences: number }>>(`/api/complaints/${project.id}`, { key: project.query_key })
      return r.body.length === 1 && r.body[0]!.occurrences === 4 ? r.body : null
    })
    expect(complaints[0]!.occurrences).toBe(4)

    const ready = await sluice.get<{ processors: Array<{ processor: string; group: string; state: string; last_commit_at: string | null }> }>('/ready')
    expect(ready.status).toBe(200)
    const reactions = ready.body.processors.find((p) => p.processor === 'reactions')
    expect(reactions).toMatchObject({ group: sluice.config.processor.reactionsGroup, state: 'ok' })
    // Liveness comes from the thread every 500 ms: it shows the commit of the flush above.
    await waitFor(async () => ((await sluice.get<typeof ready.body>('/ready')).body.processors.find((p) => p.processor === 'reactions')?.last_commit_at ? true : null))

    const metrics = await sluice.get<string>('/metrics')
    const text = metrics.body
    // The reactions series (from the thread when it runs there) beside the main thread's own.
    expect(seriesValue(text, 'sluice_processor_messages_total{processor="reactions",outcome="stored"}')).toBe(4)
    expect(seriesValue(text, 'sluice_processor_messages_total{processor="logs",outcome="stored"}')).toBe(4)
    expect(seriesValue(text, 'sluice_complaints_opened_total{severity="warning"}')).toBe(1)
    expect(seriesValue(text, 'sluice_processor_batch_duration_seconds_count{processor="reactions",result="ok"}')).toBeGreaterThan(0)
    expect(text).toContain('process_resident_memory_bytes')
    // Each metric family once, however many threads report it.
    const help = text.split('\n').filter((l) => l.startsWith('# HELP sluice_processor_messages_total '))
    expect(help).toHaveLength(1)
  })
})
