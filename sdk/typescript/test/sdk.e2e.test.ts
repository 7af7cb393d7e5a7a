import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestSluice, type TestProject, type TestSluice } from '../../../test/helpers/test-sluice.ts'
import { Sluice, type Step } from '../src/index.ts'

// The SDK against a real Sluice (the repo's harness, on the services of test/global-setup.ts):
// what the SDK records is what /analyze answers. The clock is the SDK's injectable one, moved by
// the test, so every duration is known exactly; ids are the SDK's own.

interface Candidate {
  id: number
  score: number
  category: number
  duplicate: boolean
}

interface ExpectedStep {
  step_id: string
  name: string
  type: string
  input_count: number
  output_count: number
  rejection_reasons: Record<string, number>
  duration_ms: number
  cost: number | null
  outputs: Record<string, unknown>
}

const iso = (ms: number) => new Date(ms).toISOString()

/** Counts rejections the way a reader would, independently of the SDK. */
function countReasons<T>(items: readonly T[], decide: (item: T) => true | string): Record<string, number> {
  const reasons: Record<string, number> = {}
  for (const item of items) {
    const v = decide(item)
    if (v !== true) reasons[v] = (reasons[v] ?? 0) + 1
  }
  return reasons
}

describe('the TypeScript SDK against a real Sluice', () => {
  let server: TestSluice
  let project: TestProject
  let now = Date.UTC(2026, 10, 22, 9, 0, 0, 0)
  let client: Sluice

  beforeAll(async () => {
    server = await startTestSluice()
    project = await server.createProject()
    client = new Sluice({ endpoint: server.url, apiKey: project.ingest_key, clock: () => now, flushOnExit: false, flushIntervalMs: 50 })
  })

  afterAll(async () => {
    await client?.shutdown()
    await server?.close()
  })

  it('a run of five steps with candidates: /analyze equals what the SDK recorded', async () => {
    const candidates: Candidate[] = Array.from({ length: 120 }, (_, i) => ({
      id: i,
      score: (i * 37) % 100,
      category: i % 6,
      duplicate: i % 10 === 3,
    }))
    const expected: ExpectedStep[] = []
    const startedAt = now
    const name = `recs-e2e-${randomUUID().slice(0, 8)}`

    /** One step: records what it keeps, and what the test expects /analyze to say about it. */
    async function stage<T>(
      run: { step: <R>(o: { name: string; type: string }, fn: (s: Step) => Promise<R> | R) => Promise<R> },
      meta: { name: string; type: string; ms: number; cost?: number },
      items: readonly T[],
      // A factory: a decide may keep state, and the expected counts replay it afresh.
      decider: () => (item: T) => true | string,
      outputs: (kept: T[]) => Record<string, unknown>,
    ): Promise<T[]> {
      return run.step(meta, (step) => {
        step.input({ count: items.length })
        now += meta.ms
        const kept = step.processCandidates(items, decider())
        const out = outputs(kept)
        step.output(out)
        if (meta.cost !== undefined) step.cost(meta.cost)
        expected.push({
          step_id: step.id,
          name: meta.name,
          type: meta.type,
          input_count: items.length,
          output_count: kept.length,
          rejection_reasons: countReasons(items, decider()),
          duration_ms: meta.ms,
          cost: meta.cost ?? null,
          outputs: out,
        })
        return kept
      })
    }

    let runId = ''
    const top = await client.run({ name, tags: { env: 'test', sdk: 'typescript' } }, async (run) => {
      runId = run.id
      now += 3
      const retrieved = await stage(run, { name: 'retrieve', type: 'retrieval', ms: 40, cost: 0.001 }, candidates, () => () => true, (k) => ({ retrieved: k.length }))
      const unique = await stage(run, { name: 'dedupe', type: 'filter', ms: 5 }, retrieved, () => (c) => (c.duplicate ? 'duplicate' : true), (k) => ({ unique: k.length }))
      const scored = await stage(run, { name: 'score', type: 'llm', ms: 230, cost: 0.0245 }, unique, () => (c) => (c.score >= 30 ? true : 'low_score'), (k) => ({ scored: k.length }))
      const diverse = await stage(
        run,
        { name: 'diversify', type: 'filter', ms: 2 },
        scored,
        () => {
          const perCategory = new Map<number, number>()
          return (c) => {
            const n = perCategory.get(c.category) ?? 0
            perCategory.set(c.category, n + 1)
            return n < 4 ? true : 'category_full'
          }
        },
        (k) => ({ diverse: k.length }),
      )
      const cutoff = [...diverse].sort((a, b) => b.score - a.score)[9]!.score
      const ranked = await stage(run, { name: 'rank', type: 'logic', ms: 1 }, diverse, () => (c) => (c.score >= cutoff ? true : 'below_top_10'), (k) => ({
        top: k.map((c) => c.id),
      }))
      now += 4
      return ranked
    })
    const completedAt = now
    expect(top.length).toBeGreaterThanOrEqual(10)

    expect(await client.flush().then(() => client.stats())).toMatchObject({ sent: 7, queued: 0, dropped: { rejected: 0, client_error: 0 } })
    await server.waitUntilProcessed()

    const res = await server.get<Record<string, any>>(`/analyze/${runId}`, { key: project.query_key })
    expect(res.status).toBe(200)
    const totalCost = 0.001 + 0.0245
    expect(res.body).toEqual({
      run: {
        id: runId,
        name,
        status: 'COMPLETED',
        total_cost: expect.closeTo(totalCost, 12),
        tags: { env: 'test', sdk: 'typescript' },
        started_at: iso(startedAt),
        completed_at: iso(completedAt),
        error: null,
        created_at: expect.any(String),
        step_count: 5,
      },
      funnel: expected.map((s) => ({
        step_id: s.step_id,
        name: s.name,
        type: s.type,
        input_count: s.input_count,
        output_count: s.output_count,
        dropped: s.input_count - s.output_count,
        drop_rate: expect.closeTo((s.input_count - s.output_count) / s.input_count, 12),
        rejection_reasons: s.rejection_reasons,
        duration_ms: s.duration_ms,
        cost: s.cost === null ? null : expect.closeTo(s.cost, 12),
      })),
      summary: {
        initial_count: 120,
        final_count: top.length,
        overall_drop_rate: expect.closeTo(1 - top.length / 120, 12),
        total_cost: expect.closeTo(totalCost, 12),
        total_duration_ms: completedAt - startedAt,
      },
      final_outputs: { top: top.map((c) => c.id) },
    })
    // The step details too: inputs and outputs as recorded.
    const steps = await server.get<Array<Record<string, any>>>(`/runs/${runId}/steps`, { key: project.query_key })
    expect(steps.body.map((s) => [s.name, s.inputs, s.outputs])).toEqual(expected.map((s) => [s.name, { count: s.input_count }, s.outputs]))
  })

  it('an exception inside a step: a FAILED run with the error, the error rethrown', async () => {
    let runId = ''
    let failedStep = ''
    const err = await client
      .run({ name: `failing-e2e-${randomUUID().slice(0, 8)}` }, async (run) => {
        runId = run.id
        await run.step({ name: 'fetch', type: 'retrieval' }, (s) => s.processCandidates([1, 2, 3], () => true))
        await run.step({ name: 'rank', type: 'llm' }, (s) => {
          failedStep = s.id
          now += 15
          throw new Error('ranker exploded: quota exceeded')
        })
      })
      .catch((e: unknown) => e)
    expect((err as Error).message).toBe('ranker exploded: quota exceeded')
    await client.flush()
    await server.waitUntilProcessed()

    const run = await server.get<Record<string, any>>(`/runs/${runId}`, { key: project.query_key })
    expect(run.body).toMatchObject({ id: runId, status: 'FAILED', error: 'ranker exploded: quota exceeded', step_count: 2 })
    const analysis = await server.get<Record<string, any>>(`/analyze/${runId}`, { key: project.query_key })
    expect(analysis.body.run.status).toBe('FAILED')
    const steps = await server.get<Array<Record<string, any>>>(`/runs/${runId}/steps`, { key: project.query_key })
    expect(steps.body.map((s) => [s.name, s.error])).toEqual([
      ['fetch', null],
      ['rank', 'ranker exploded: quota exceeded'],
    ])
    expect(steps.body[1]!.id).toBe(failedStep)
  })
})
