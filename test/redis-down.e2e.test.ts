/**
 * Issue "reliability", faults of every dependency: Redis unreachable (cut off for real through a
 * TCP proxy, the shared Redis keeps running). Ingest keeps accepting (the rate limit fails open,
 * counted in a metric); the reactions processor, which keeps run starts in Redis for run-duration
 * rules, waits for it instead of guessing, and the duration is right once Redis is back.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { testServices } from './helpers/services.ts'
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.ts'
import { ADMIN_TOKEN, startTestSluice, testEnv, type TestSluice } from './helpers/test-sluice.ts'

describe('Redis unreachable', () => {
  let proxy: TcpProxy
  let ingest: TestSluice
  let processor: TestSluice

  afterAll(async () => {
    await processor?.close()
    await ingest?.close()
    await proxy?.close()
  })

  it('fails ingest rate limiting open and delays, not breaks, run-duration rules', async () => {
    const direct = new URL(testServices().redisUrl)
    proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port) })
    const env = { ...testEnv(), REDIS_URL: proxy.url(testServices().redisUrl), SLUICE_RATE_LIMIT_EVENTS_PER_SECOND: '100000' }
    ingest = await startTestSluice({ roles: ['ingest'], env })
    processor = await startTestSluice({ roles: ['processor', 'query'], env })
    const project = await ingest.createProject()
    const rule = {
      name: 'slow runs',
      event_type: 'run_complete',
      conditions: [{ field: 'duration_ms', op: 'gte', value: 60_000 }],
      actions: [{ type: 'complaint' }],
    }
    expect((await processor.post('/api/reactions', { key: project.query_key, body: rule })).status).toBe(201)

    await proxy.down()
    const runId = randomUUID()
    const t0 = Date.UTC(2026, 11, 1, 10, 0, 0)
    const events = [
      { id: randomUUID(), type: 'run_start', timestamp: t0, data: { run_id: runId, name: 'slow', started_at: t0 } },
      { id: randomUUID(), type: 'run_complete', timestamp: t0 + 90_000, data: { run_id: runId, status: 'completed', completed_at: t0 + 90_000 } },
    ]
    // The start alone first, so the processor handles it in a fetch of its own while Redis is away
    // (a regression: a pipeline's failed SET used to pass unnoticed, and the start was lost).
    for (const event of events) {
      const res = await ingest.post<{ processed: number }>('/ingest', { key: project.ingest_key, body: { events: [event] } })
      expect(res.status).toBe(200)
      expect(res.body.processed).toBe(1)
      await new Promise((r) => setTimeout(r, 1_500))
    }
    expect((await ingest.get<string>('/metrics')).body).toMatch(/^sluice_rate_limiter_errors_total [1-9]/m)

    await new Promise((r) => setTimeout(r, 3_000))
    const ready = await processor.get<{ checks: Record<string, string> }>('/ready')
    expect(ready.status).toBe(503)
    expect(ready.body.checks.redis).toMatch(/^error/)
    // The run itself does not need Redis: runs-funnel stored it.
    expect((await processor.get<{ status: string }>(`/runs/${runId}`, { key: project.query_key })).body.status).toBe('COMPLETED')
    expect((await processor.get<unknown[]>(`/api/complaints/${project.id}`, { key: project.query_key })).body).toEqual([])

    await proxy.up()
    await ingest.waitUntilProcessed(60_000)
    const complaints = await processor.get<Array<{ occurrences: number; sample_event: { data: { duration_ms: number } } }>>(`/api/complaints/${project.id}`, { key: project.query_key })
    expect(complaints.body).toHaveLength(1)
    expect(complaints.body[0]!.sample_event.data.duration_ms).toBe(90_000)
    expect((await processor.get<string>('/metrics')).body).not.toMatch(/sluice_dead_letter_total\{/)
    expect((await ingest.get('/api/ops/lag', { key: ADMIN_TOKEN })).status).toBe(200)
  })
})
