import { describe, expect, it } from 'vitest'
import { generateRun, prng } from './fixtures/pipeline-runs.ts'
import { startTestSluice, testEnv } from './helpers/test-sluice.ts'

// Shutdown order: HTTP intake stops and in-flight requests finish (with their broker acks), the
// consumer stores and commits its in-flight batch, then connections close. An event that got a
// 200 is never lost, and nothing is counted twice when the next process picks up.
describe('graceful shutdown', () => {
  it('keeps every acknowledged event when closed in the middle of an ingest burst', async () => {
    const env = testEnv()
    const first = await startTestSluice({ env })
    const project = await first.createProject()
    const rand = prng(99)
    const runs = Array.from({ length: 40 }, (_, i) => generateRun(rand, 'burst', Date.UTC(2026, 10, 3) + i * 1000))

    const sends = runs.map((run, i) =>
      new Promise((r) => setTimeout(r, i * 5)).then(() =>
        first
          .post('/ingest', { key: project.ingest_key, body: { events: run.events } })
          .then((res) => ({ run, status: res.status }))
          .catch(() => ({ run, status: 0 })),
      ),
    )
    await new Promise((r) => setTimeout(r, 60))
    const closing = first.close()
    const results = await Promise.all(sends)
    await closing

    const acknowledged = results.filter((r) => r.status === 200).map((r) => r.run)
    const refused = results.filter((r) => r.status !== 200)
    // Some requests made it in before the close, and the rest were refused outright, not half-taken.
    expect(acknowledged.length).toBeGreaterThan(0)
    expect(refused.length).toBeGreaterThan(0)
    expect(refused.map((r) => r.status).filter((s) => s !== 0 && s !== 503)).toEqual([])

    const second = await startTestSluice({ env })
    try {
      await second.waitUntilProcessed()
      const listed = await second.get<Array<{ id: string; step_count: number; status: string }>>('/runs?name=burst&limit=1000', {
        key: project.query_key,
      })
      const byId = new Map(listed.body.map((r) => [r.id, r]))
      for (const run of acknowledged) {
        expect(byId.get(run.run_id)).toMatchObject({ step_count: run.steps.length, status: run.status.toUpperCase() })
      }
      const funnel = await second.get<Array<{ name: string; runs: number }>>('/pipelines/burst/funnel', { key: project.query_key })
      // Runs refused with a connection error may still have reached Kafka; none is counted twice.
      expect(funnel.body.map((s) => s.name)).toEqual(runs[0]!.steps.map((s) => s.name))
      expect(funnel.body.map((s) => s.runs)).toEqual(funnel.body.map(() => listed.body.length))
      expect(listed.body.length).toBeGreaterThanOrEqual(acknowledged.length)
      expect(listed.body.length).toBeLessThanOrEqual(runs.length)
    } finally {
      await second.close()
    }
  })
})
