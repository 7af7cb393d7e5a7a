import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectedPipelineFunnel, generateRun, prng, shuffledBatches, type GeneratedRun } from '../test/fixtures/pipeline-runs.ts'
import { expectFunnel } from '../test/helpers/expect-funnel.ts'
import { testEnv } from '../test/helpers/test-sluice.ts'
import { normalizeEvent } from '../ingest/event-schema.ts'
import { clickhouseTables, createClickhouseClient, type ClickHouseClient } from '../lib/clickhouse.ts'
import { createLogger } from '../lib/logger.ts'
import { createMetrics } from '../lib/metrics.ts'
import { runMigrations } from '../lib/migrate.ts'
import type { PositionedEvent } from '../processors/positioned-events.ts'
import { planBatch, type BatchPlan } from '../processors/runs-funnel/batch-plan.ts'
import { createFunnelStore, FUNNEL_STEP_COLUMNS, funnelStepRow, ROLLUP_COLUMNS, rollupRows } from '../processors/runs-funnel/funnel-store.ts'
import { createFunnelReader, type FunnelReader } from './funnel-reader.ts'

// The pipeline funnel over ranges that cut through hours (whole hours from the rollup, the edges
// from funnel_steps), written through the processor's own planner and store in shuffled batches
// with resends and steps before their run_start, plus one flush's funnel_steps rows written twice
// (what a crash between the store's two phases leaves), against sums computed from the runs alone.
describe('funnel reader', () => {
  const database = `sluice_funnel_${randomUUID().replaceAll('-', '').slice(0, 12)}`
  const project = randomUUID()
  const other = randomUUID()
  // The same counts as an older Sluice stored them: hours without days (span 0), for 0007 to copy.
  const older = randomUUID()
  const HOUR = 3_600_000
  const base = Date.UTC(2026, 10, 20, 9, 0, 0)
  const rand = prng(20261202)
  // 48 runs over three hours, and 12 more over three and a half days around them.
  const runs: GeneratedRun[] = [
    ...Array.from({ length: 48 }, (_, i) => generateRun(rand, 'recs', base + i * 4 * 60_000 + 777)),
    ...Array.from({ length: 12 }, (_, i) => generateRun(rand, 'recs', base - 30 * HOUR + i * 7 * HOUR + 3 * 60_000 + 5)),
  ]
  const search: GeneratedRun[] = Array.from({ length: 5 }, (_, i) => generateRun(rand, 'search', base + i * 60_000))
  let clickhouse: ClickHouseClient
  let reader: FunnelReader
  const tables = clickhouseTables(database)

  beforeAll(async () => {
    const env = testEnv()
    clickhouse = createClickhouseClient({ url: env.CLICKHOUSE_URL, user: 'default', password: '', chdbPath: env.SLUICE_CHDB_PATH ?? '' })
    await runMigrations({ pg: undefined, clickhouse, clickhouseDatabase: database, logger: createLogger({ level: 'silent' }) })
    const store = createFunnelStore({ client: clickhouse, tables, metrics: createMetrics() })
    reader = createFunnelReader({ client: clickhouse, tables })

    let offset = 0
    const envelope = (raw: unknown, projectId: string) => {
      const r = normalizeEvent(raw, { projectId, receivedAt: base, requestId: 'test', newId: randomUUID })
      if (!('ok' in r)) throw new Error(r.problem.message)
      return r.ok
    }
    const plans: BatchPlan[] = []
    const batches = shuffledBatches([...runs, ...search].flatMap((r) => r.events), rand, 29, 0.15)
    for (const batch of batches) {
      const events: PositionedEvent[] = batch.map((raw) => ({ event: envelope(raw, project), partition: 0, offset: offset++ }))
      const runIds = [...new Set(events.map((e) => (e.event.payload as { run_id: string }).run_id))]
      const plan = planBatch(events, await store.loadKnownState([project], runIds))
      await store.write(plan, [])
      plans.push(plan)
    }
    // Another project's pipeline of the same name at the same times must never count.
    const intruder = generateRun(rand, 'recs', base + 30 * 60_000)
    const events = intruder.events.map((raw) => ({ event: envelope(raw, other), partition: 1, offset: offset++ }))
    await store.write(planBatch(events, { runStarts: [], steps: [], completions: [] }), [])
    // The counted steps of the flush that counted most, written again.
    const replayed = plans.reduce((a, b) => (b.contributions.length > a.contributions.length ? b : a))
    expect(replayed.contributions.length).toBeGreaterThan(5)
    await clickhouse.insert({ table: tables.funnelSteps, values: replayed.contributions.map(funnelStepRow), columns: [...FUNNEL_STEP_COLUMNS], format: 'JSONCompactEachRow' })

    const olderContributions = plans.flatMap((p) => p.contributions).map((c) => ({ ...c, project_id: older }))
    const span = ROLLUP_COLUMNS.indexOf('span')
    const hoursOnly = plans.flatMap((p) => rollupRows(p.contributions.map((c) => ({ ...c, project_id: older }))).filter((r) => r[span] === 3600).map((r) => r.with(span, 0)))
    await clickhouse.insert({ table: tables.funnelRollup, values: hoursOnly, columns: [...ROLLUP_COLUMNS], format: 'JSONCompactEachRow' })
    await clickhouse.insert({ table: tables.funnelSteps, values: olderContributions.map(funnelStepRow), columns: [...FUNNEL_STEP_COLUMNS], format: 'JSONCompactEachRow' })
  })

  afterAll(async () => {
    await clickhouse?.command({ query: `DROP DATABASE IF EXISTS ${database}` })
    await clickhouse?.close()
  })

  const ranges: Array<[string, number, number]> = [
    ['inside one hour', base + 7 * 60_000, base + 50 * 60_000],
    ['across hours, both edges partial', base + 25 * 60_000, base + 2 * HOUR + 10 * 60_000],
    ['whole hours only', base, base + 3 * HOUR],
    ['a month around them', base - 20 * 24 * HOUR + 1, base + 10 * 24 * HOUR - 1],
    ['three days, cutting through days and hours', base - 29 * HOUR + 17 * 60_000, base + 51 * HOUR + 7 * 60_000],
    ['whole days only', base - 33 * HOUR, base + 63 * HOUR],
  ]

  it('sums every counted step once over all time', async () => {
    expectFunnel(await reader.pipelineFunnel(project, 'recs', {}), expectedPipelineFunnel(runs))
  })

  it.each(ranges)('sums every counted step once, %s', async (_, from, to) => {
    const inRange = runs.filter((r) => r.started_at >= from && r.started_at < to)
    expect(inRange.length).toBeGreaterThan(5)
    expectFunnel(await reader.pipelineFunnel(project, 'recs', { from, to }), expectedPipelineFunnel(inRange))
  })

  it('copies the hours stored before day rows existed into days (0007), once', async () => {
    await clickhouse.command({ query: `ALTER TABLE ${tables.migrations} DELETE WHERE name = '0007_rollup_days.sql' SETTINGS mutations_sync = 2` })
    const migrate = () => runMigrations({ pg: undefined, clickhouse, clickhouseDatabase: database, logger: createLogger({ level: 'silent' }) })
    expect((await migrate()).clickhouse).toEqual(['0007_rollup_days.sql'])
    // Applied again (a file interrupted after its copy): the copied days are not copied twice.
    await clickhouse.command({ query: `ALTER TABLE ${tables.migrations} DELETE WHERE name = '0007_rollup_days.sql' SETTINGS mutations_sync = 2` })
    expect((await migrate()).clickhouse).toEqual(['0007_rollup_days.sql'])
    expectFunnel(await reader.pipelineFunnel(older, 'recs', {}), expectedPipelineFunnel(runs))
    for (const [, from, to] of ranges) {
      expectFunnel(await reader.pipelineFunnel(older, 'recs', { from, to }), expectedPipelineFunnel(runs.filter((r) => r.started_at >= from && r.started_at < to)))
    }
  })

  it('fills funnel_steps from the steps stored before it existed (0006), the same rows the store wrote', async () => {
    const snapshot = async () => {
      const rs = await clickhouse.query({
        query: `SELECT * FROM ${tables.funnelSteps} FINAL WHERE project_id != '${older}' ORDER BY project_id, pipeline, run_started_at, run_id, step_id`,
        format: 'JSONEachRow',
      })
      return rs.json<Record<string, unknown>>()
    }
    const written = await snapshot()
    expect(written).toHaveLength((runs.length + search.length + 1) * 5)
    await clickhouse.command({ query: `TRUNCATE TABLE ${tables.funnelSteps}` })
    await clickhouse.command({ query: `ALTER TABLE ${tables.migrations} DELETE WHERE name = '0006_funnel_steps.sql' SETTINGS mutations_sync = 2` })
    const applied = await runMigrations({ pg: undefined, clickhouse, clickhouseDatabase: database, logger: createLogger({ level: 'silent' }) })
    expect(applied.clickhouse).toEqual(['0006_funnel_steps.sql'])
    expect(await snapshot()).toEqual(written)
    const [, from, to] = ranges[1]!
    expectFunnel(await reader.pipelineFunnel(project, 'recs', { from, to }), expectedPipelineFunnel(runs.filter((r) => r.started_at >= from && r.started_at < to)))
  })
})
