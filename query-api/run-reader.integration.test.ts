import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testEnv } from '../test/helpers/test-sluice.ts'
import { clickhouseTables, createClickhouseClient, type ClickHouseClient } from '../lib/clickhouse.ts'
import type { EventEnvelope } from '../lib/event-types.ts'
import { createLogger } from '../lib/logger.ts'
import { createMetrics } from '../lib/metrics.ts'
import { runMigrations } from '../lib/migrate.ts'
import type { PositionedEvent } from '../processors/positioned-events.ts'
import { planBatch } from '../processors/runs-funnel/batch-plan.ts'
import { createFunnelStore } from '../processors/runs-funnel/funnel-store.ts'
import { createRunReader, type RunFilter, type RunReader } from './run-reader.ts'

// The reader over the read tables the 0005 views keep, written through the processor's own store:
// every status filter, paged to the end with small pages (so the status's set of runs is used when
// the next candidates hold too few), against the same runs computed here.
describe('run reader', () => {
  const database = `sluice_reader_${randomUUID().replaceAll('-', '').slice(0, 12)}`
  const project = randomUUID()
  const other = randomUUID()
  const base = Date.UTC(2026, 10, 1, 8, 0, 0)
  let clickhouse: ClickHouseClient
  let reader: RunReader

  interface Expected {
    id: string
    name: string
    started_at: number
    status: 'RUNNING' | 'COMPLETED' | 'FAILED'
    tags: Record<string, string>
    step_count: number
    total_cost: number | null
  }
  const expected: Expected[] = []

  beforeAll(async () => {
    const env = testEnv()
    clickhouse = createClickhouseClient({ url: env.CLICKHOUSE_URL, user: 'default', password: '', chdbPath: env.SLUICE_CHDB_PATH ?? '' })
    await runMigrations({ pg: undefined, clickhouse, clickhouseDatabase: database, logger: createLogger({ level: 'silent' }) })
    const tables = clickhouseTables(database)
    const store = createFunnelStore({ client: clickhouse, tables, metrics: createMetrics() })
    reader = createRunReader({ client: clickhouse, tables })

    let offset = 0
    const events: PositionedEvent[] = []
    const push = (event: EventEnvelope) => events.push({ event, partition: 0, offset: offset++ })
    const envelope = (projectId: string, at: number) => ({ id: randomUUID(), project_id: projectId, timestamp: at, received_at: at, request_id: null })
    for (let i = 0; i < 60; i++) {
      const runId = randomUUID()
      const startedAt = base + i * 60_000
      // Failed and running runs are rare and spread out, so small pages need the fallback.
      const status = i % 13 === 5 ? 'FAILED' : i % 17 === 3 || i === 59 ? 'RUNNING' : 'COMPLETED'
      const tags = { env: i % 3 === 0 ? 'prod' : 'staging' }
      const steps = 1 + (i % 4)
      push({ ...envelope(project, startedAt), type: 'run_start', payload: { run_id: runId, name: i % 2 ? 'recs' : 'search', tags, started_at: startedAt } })
      let cost: number | null = null
      for (let s = 0; s < steps; s++) {
        // Some runs have no cost at all (total_cost null), some a cost of exactly 0.
        const stepCost = i % 5 === 0 || s % 2 === 1 ? null : i % 7 === 0 ? 0 : 0.001 * (s + 1)
        if (stepCost !== null) cost = (cost ?? 0) + stepCost
        push({
          ...envelope(project, startedAt + s * 10 + 5),
          type: 'step_complete',
          payload: {
            step_id: randomUUID(), run_id: runId, name: `step-${s}`, type: 'filter', inputs: null, outputs: `{"s":${s}}`, metadata: null,
            reasoning: null, cost: stepCost, started_at: startedAt + s * 10, completed_at: startedAt + s * 10 + 5, error: null,
            input_count: 100 - s, output_count: 99 - s, rejection_reasons: { low: 1 },
          },
        })
      }
      if (status !== 'RUNNING') {
        push({
          ...envelope(project, startedAt + 1000),
          type: 'run_complete',
          payload: { run_id: runId, status: status === 'FAILED' ? 'failed' : 'completed', completed_at: startedAt + 1000, error: null, total_cost: null },
        })
      }
      expected.push({ id: runId, name: i % 2 ? 'recs' : 'search', started_at: startedAt, status, tags, step_count: steps, total_cost: cost })
    }
    // Another project's run at the same times must never show.
    push({ ...envelope(other, base), type: 'run_start', payload: { run_id: randomUUID(), name: 'recs', tags: {}, started_at: base } })
    const empty = { runStarts: [], steps: [], completions: [] }
    const half = Math.floor(events.length / 2)
    const first = planBatch(events.slice(0, half), empty)
    await store.write(first, [])
    // The second flush knows what the first stored, as the processor does (cache or store).
    await store.write(planBatch(events.slice(half), first.known), [])
    // A replay: the first half written again at the same positions (a flush that crashed before its
    // marker), which the views copy again; nothing may count twice.
    await store.write(planBatch(events.slice(0, half), empty), [])
    expected.reverse()
  })

  afterAll(async () => {
    await clickhouse?.command({ query: `DROP DATABASE IF EXISTS ${database}` })
    await clickhouse?.close()
  })

  async function listAll(f: Omit<RunFilter, 'before' | 'limit'>, limit: number) {
    const seen = []
    let before: RunFilter['before']
    for (let pages = 0; pages < 100; pages++) {
      const page = await reader.listRuns(project, { ...f, limit, before })
      seen.push(...page.runs)
      const last = page.runs[page.runs.length - 1]
      if (!page.hasMore || !last) break
      before = [Date.parse(last.started_at), last.id]
    }
    return seen
  }

  const shape = (e: Expected) => ({ id: e.id, name: e.name, status: e.status, step_count: e.step_count, tags: e.tags, started_at: new Date(e.started_at).toISOString() })

  it.each([
    ['no filter', {}],
    ['status COMPLETED', { status: 'COMPLETED' as const }],
    ['status FAILED', { status: 'FAILED' as const }],
    ['status RUNNING', { status: 'RUNNING' as const }],
    ['name, status and tag', { name: 'recs', status: 'COMPLETED' as const, tags: [['env', 'prod']] as Array<[string, string]> }],
  ])('pages through %s, newest first, every run once with its state', async (_, f) => {
    const filter: Omit<RunFilter, 'before' | 'limit'> = { tags: [], ...f }
    const want = expected.filter(
      (e) =>
        (filter.status === undefined || e.status === filter.status) &&
        (filter.name === undefined || e.name === filter.name) &&
        filter.tags.every(([k, v]) => e.tags[k] === v),
    )
    expect(want.length).toBeGreaterThan(2)
    for (const limit of [1, 2, 7]) {
      const got = await listAll(filter, limit)
      expect(got.map((r) => ({ id: r.id, name: r.name, status: r.status, step_count: r.step_count, tags: r.tags, started_at: r.started_at }))).toEqual(
        want.map(shape),
      )
      got.forEach((r, i) => (want[i]!.total_cost === null ? expect(r.total_cost).toBeNull() : expect(r.total_cost).toBeCloseTo(want[i]!.total_cost!, 12)))
    }
  })

  it('reads one run, and one run with its steps in run order, in one query each', async () => {
    for (const e of expected.slice(0, 8)) {
      const run = await reader.getRun(project, e.id)
      expect(run).toMatchObject(shape(e))
      const both = await reader.getRunWithSteps(project, e.id, 100)
      expect(both?.run).toEqual(run)
      expect(both?.steps.map((s) => s.name)).toEqual(Array.from({ length: e.step_count }, (_, s) => `step-${s}`))
      expect(both?.steps.map((s) => s.outputs)).toEqual(Array.from({ length: e.step_count }, (_, s) => ({ s })))
      expect((await reader.getRunWithSteps(project, e.id, 1))?.steps).toHaveLength(1)
    }
    expect(await reader.getRun(other, expected[0]!.id)).toBeNull()
    expect(await reader.getRunWithSteps(other, expected[0]!.id, 100)).toBeNull()
  })
})
