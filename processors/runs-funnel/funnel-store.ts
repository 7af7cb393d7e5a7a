import { insertCompactRows, type ClickHouseClient, type ClickhouseTables } from '../../lib/clickhouse.ts'
import { runCompletedAt, runStartedAt, type RunCompletePayload, type RunStartPayload, type StepCompletePayload } from '../../lib/event-types.ts'
import { addContribution, emptyAccumulator, HOUR_MS, type FunnelAccumulator, type FunnelContribution } from '../../lib/funnel-math.ts'
import type { Metrics } from '../../lib/metrics.ts'
import { STEP_FACTS_COLUMNS, toStepFacts, type StepFactsRow } from '../../lib/step-facts-rows.ts'
import type { BatchPlan, CountedStep, KafkaPosition, KnownCompletion, KnownRunStart, KnownState, OpenRunRow } from './batch-plan.ts'
import { RUN_STATE_INPUT_COLUMNS, runStateRows } from './run-state-rows.ts'

/** Identifies a batch marker: which consumer group consumed which partition of which topic. */
export interface MarkerKey {
  group: string
  topic: string
  partition: number
}

/** The runs-funnel processor's reads and writes in ClickHouse. */
export interface FunnelStore {
  /** The last offset whose batch is fully stored, or null when none is. */
  readMarker(key: MarkerKey): Promise<number | null>
  loadKnownState(projectIds: readonly string[], runIds: readonly string[]): Promise<KnownState>
  /**
   * Writes the plan's rows, then its rollup deltas and the markers of every partition it covers in
   * one insert (none when nothing counts).
   */
  write(plan: BatchPlan, markers: ReadonlyArray<MarkerKey & { offset: number }>): Promise<void>
  /** Rejects when ClickHouse does not answer. */
  ping(): Promise<void>
}

// TRICKY: no parallel parsing, so an INSERT is one block, one part: a rollup insert's deltas and
// markers land together or not at all.
const INSERT_SETTINGS = { input_format_parallel_parsing: 0 } as const

export function createFunnelStore(options: { client: ClickHouseClient; tables: ClickhouseTables; metrics: Metrics }): FunnelStore {
  const { client, tables, metrics } = options

  // TRICKY: parameters, not values escaped into the SQL (lib/clickhouse.ts, queryPlainRows): a flush
  // asks about thousands of runs, and as literals they cost the engine more to parse (4,000 ids: 30
  // against 20 ms; docs/performance.md, "where a flush's time goes").
  async function select<T>(query: string, params: Record<string, unknown>): Promise<T[]> {
    const rs = await client.query({ query, query_params: params, format: 'JSONEachRow' })
    return rs.json<T>()
  }

  async function insert(table: string, label: string, columns: readonly string[], values: readonly unknown[][]): Promise<void> {
    if (values.length === 0) return
    const end = metrics.clickhouseInsertDuration.startTimer({ table: label })
    await insertCompactRows(client, { table, columns, rows: values, settings: INSERT_SETTINGS })
    end()
  }

  return {
    async readMarker(key) {
      const rows = await select<{ o: number; n: number }>(
        `SELECT max(max_offset) AS o, count() AS n FROM ${tables.funnelRollup}
         WHERE project_id = '' AND pipeline = '' AND step_name = {k:String}`,
        { k: markerName(key) },
      )
      const row = rows[0]
      return row && Number(row.n) > 0 ? Number(row.o) : null
    },

    async loadKnownState(projectIds, wanted) {
      if (wanted.length === 0) return { runStarts: [], steps: [], completions: [] }
      // Most runs of a flush are new: run_state (a row per run, ordered by it, in 32-row granules,
      // filled by views in the very inserts that write the raw rows) says which ones the store
      // holds, and only those are read from the wide tables. (Until 2026-12 a table of its own,
      // run_keys, written with the raw rows, did this; it is no longer written.)
      const held = await select<{ run_id: string }>(
        `SELECT DISTINCT run_id FROM ${tables.runState} WHERE project_id IN {p:Array(String)} AND run_id IN {r:Array(String)}`,
        { p: projectIds, r: wanted },
      )
      const runIds = held.map((h) => h.run_id)
      if (runIds.length === 0) return { runStarts: [], steps: [], completions: [] }
      const params = { p: projectIds, r: runIds }
      const where = 'project_id IN {p:Array(String)} AND run_id IN {r:Array(String)}'
      const [runStarts, steps, completions] = await Promise.all([
        select<KnownRunStart>(
          `SELECT project_id, run_id, name, toUnixTimestamp64Milli(started_at) AS started_at,
                  kafka_partition AS partition, kafka_offset AS offset
           FROM ${tables.runStarts} WHERE ${where}`,
          params,
        ),
        select<StepFactsRow & KafkaPosition & { step_id: string }>(
          `SELECT ${STEP_FACTS_COLUMNS}, step_id, kafka_partition AS partition, kafka_offset AS offset
           FROM ${tables.steps} WHERE ${where}`,
          params,
        ),
        select<KnownCompletion>(
          `SELECT project_id, run_id, kafka_partition AS partition, kafka_offset AS offset
           FROM ${tables.runCompletions} WHERE ${where}`,
          params,
        ),
      ])
      return {
        runStarts: runStarts.map((r) => ({ ...r, started_at: Number(r.started_at), ...position(r) })),
        steps: steps.map((s) => ({ ...toStepFacts(s), step_id: s.step_id, ...position(s) })),
        completions: completions.map((c) => ({ ...c, ...position(c) })),
      }
    },

    async ping() {
      const r = await client.ping()
      if (!r.success) throw r.error
    },

    async write(plan, markers) {
      // Raw rows first: they are idempotent (same key, same position), so a crash before the
      // rollup insert below only means they are written again, identically.
      // TRICKY: so are the funnel_steps rows of the counted steps, and they go in this phase so that
      // every step a stored rollup delta counts has its row (the funnel's partial hours read them).
      await Promise.all([
        insert(tables.funnelSteps, 'funnel_steps', FUNNEL_STEP_COLUMNS, plan.contributions.map(funnelStepRow)),
        insert(tables.runStarts, 'run_starts', RUN_START_COLUMNS, plan.runStarts.map(runStartRow)),
        insert(tables.runCompletions, 'run_completions', COMPLETION_COLUMNS, plan.completions.map(completionRow)),
        insert(tables.steps, 'steps', STEP_COLUMNS, plan.steps.map(stepRow)),
        insert(tables.openRuns, 'open_runs', OPEN_RUN_COLUMNS, plan.openRuns.map(openRunRow)),
        insert(tables.runStateInput, 'run_state', RUN_STATE_INPUT_COLUMNS, runStateRows(plan)),
      ])
      // A batch that counts nothing needs no marker: replaying it changes nothing (its rows are
      // idempotent), so the resume point may stay where the last counting batch left it.
      if (plan.contributions.length === 0) return
      await insert(tables.funnelRollup, 'pipeline_funnel_rollup', ROLLUP_COLUMNS, [
        ...rollupRows(plan.contributions),
        ...markers.map((m) => markerRow(m)),
      ])
    },
  }
}

export function markerName(key: MarkerKey): string {
  return `${key.group}|${key.topic}|${key.partition}`
}

export const ROLLUP_COLUMNS = [
  'project_id', 'pipeline', 'step_name', 'bucket', 'span', 'runs', 'counted', 'input_count', 'output_count', 'dropped', 'rejection_reasons',
  'duration_histogram', 'duration_min', 'duration_max', 'cost_sum', 'cost_count', 'position_sum', 'max_offset',
] as const

/** A rollup row's grain (`span`, migrations/clickhouse/0007_rollup_days.sql): an hour, or the day that also counts it. */
const SPANS = [
  { span: 3600, ms: HOUR_MS },
  { span: 86400, ms: 24 * HOUR_MS },
] as const

/**
 * Folds contributions into one row per (project, pipeline, step, hour) and one per (project,
 * pipeline, step, day), in ROLLUP_COLUMNS order: each contribution counts once at each grain.
 */
export function rollupRows(contributions: readonly FunnelContribution[]): unknown[][] {
  const groups = new Map<string, { c: FunnelContribution; bucket: number; span: number; acc: FunnelAccumulator }>()
  for (const c of contributions) {
    for (const { span, ms } of SPANS) {
      const bucket = Math.floor(c.run_started_at / ms) * ms
      const k = [c.project_id, c.pipeline, c.step_name, bucket, span].join('\u0000')
      let g = groups.get(k)
      if (!g) groups.set(k, (g = { c, bucket, span, acc: emptyAccumulator() }))
      addContribution(g.acc, c)
    }
  }
  return [...groups.values()].map(({ c, bucket, span, acc }) => [
    c.project_id,
    c.pipeline,
    c.step_name,
    bucket / 1000,
    span,
    acc.runs,
    acc.counted,
    acc.input_count,
    acc.output_count,
    acc.dropped,
    [[...acc.rejection_reasons.keys()], [...acc.rejection_reasons.values()]],
    [[...acc.duration_histogram.keys()], [...acc.duration_histogram.values()]],
    acc.duration_min,
    acc.duration_max,
    acc.cost_sum,
    acc.cost_count,
    acc.position_sum,
    0,
  ])
}

export const FUNNEL_STEP_COLUMNS = [
  'project_id', 'pipeline', 'run_started_at', 'run_id', 'step_id', 'step_name', 'input_count', 'output_count', 'rejection_reasons',
  'duration_ms', 'cost', 'position_ms',
] as const

/** A counted step's row of `funnel_steps` (migrations/clickhouse/0006_funnel_steps.sql), in FUNNEL_STEP_COLUMNS order. */
export function funnelStepRow(c: CountedStep): unknown[] {
  return [
    c.project_id, c.pipeline, c.run_started_at, c.run_id, c.step_id, c.step_name, c.input_count, c.output_count,
    c.rejection_reasons === null ? null : JSON.stringify(c.rejection_reasons), c.duration_ms, c.cost, c.position_ms,
  ]
}

/** A batch marker: the rollup row with project_id = '' that says how far a partition is stored. */
function markerRow(m: MarkerKey & { offset: number }): unknown[] {
  return ['', '', markerName(m), 0, 0, 0, 0, 0, 0, 0, [[], []], [[], []], null, null, 0, 0, 0, m.offset]
}

function position(row: KafkaPosition): KafkaPosition {
  return { partition: Number(row.partition), offset: Number(row.offset) }
}

type Row<P> = KafkaPosition & { event: { id: string; project_id: string; timestamp: number; received_at: number; payload: P } }

// Rows go as JSONCompactEachRow (arrays in column order) with DateTime64(3) columns as integer
// epoch milliseconds: half the CPU of JSON objects with ISO strings, on both sides of the insert.
export const RUN_START_COLUMNS = ['project_id', 'run_id', 'event_id', 'name', 'tags', 'started_at', 'received_at', 'kafka_partition', 'kafka_offset'] as const

export function runStartRow({ event: e, partition, offset }: Row<RunStartPayload>): unknown[] {
  return [e.project_id, e.payload.run_id, e.id, e.payload.name, e.payload.tags, runStartedAt(e), e.received_at, partition, offset]
}

export const COMPLETION_COLUMNS = [
  'project_id', 'run_id', 'event_id', 'status', 'completed_at', 'error', 'total_cost', 'received_at', 'kafka_partition', 'kafka_offset',
] as const

export function completionRow({ event: e, partition, offset }: Row<RunCompletePayload>): unknown[] {
  const p = e.payload
  return [e.project_id, p.run_id, e.id, p.status, runCompletedAt(e), p.error, p.total_cost, e.received_at, partition, offset]
}

export const OPEN_RUN_COLUMNS = ['project_id', 'started_at', 'run_id', 'closed', 'name', 'tags', 'received_at'] as const

/** A row of `open_runs`, in OPEN_RUN_COLUMNS order: a closing row carries only its key. */
export function openRunRow(r: OpenRunRow): unknown[] {
  const e = r.start?.event
  return [r.project_id, r.started_at, r.run_id, r.closed, e?.payload.name ?? '', e?.payload.tags ?? {}, e?.received_at ?? r.started_at]
}

export const STEP_COLUMNS = [
  'project_id', 'run_id', 'step_id', 'event_id', 'name', 'type', 'inputs', 'outputs', 'metadata', 'reasoning', 'cost', 'started_at',
  'completed_at', 'error', 'input_count', 'output_count', 'rejection_reasons', 'event_time', 'received_at', 'kafka_partition', 'kafka_offset',
] as const

export function stepRow({ event: e, partition, offset }: Row<StepCompletePayload>): unknown[] {
  const p = e.payload
  return [
    e.project_id, p.run_id, p.step_id, e.id, p.name, p.type, p.inputs, p.outputs, p.metadata, p.reasoning, p.cost, p.started_at,
    p.completed_at, p.error, p.input_count, p.output_count, p.rejection_reasons === null ? null : JSON.stringify(p.rejection_reasons),
    e.timestamp, e.received_at, partition, offset,
  ]
}
