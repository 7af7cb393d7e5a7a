import type { ClickHouseClient, ClickhouseTables } from '../../lib/clickhouse.ts'
import type { RunCompletePayload, RunStartPayload, StepCompletePayload } from '../../lib/event-types.ts'
import { addContribution, emptyAccumulator, hourBucket, type FunnelAccumulator, type FunnelContribution } from '../../lib/funnel-math.ts'
import type { Metrics } from '../../lib/metrics.ts'
import { STEP_FACTS_COLUMNS, toStepFacts, type StepFactsRow } from '../../lib/step-facts-rows.ts'
import type { BatchPlan, KafkaPosition, KnownCompletion, KnownRunStart, KnownState } from './batch-plan.ts'

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
  /** Writes the plan's rows, then its rollup deltas and marker in one insert (none when nothing counts). */
  write(plan: BatchPlan, marker: MarkerKey & { offset: number }): Promise<void>
}

const INSERT_SETTINGS = { date_time_input_format: 'best_effort', input_format_parallel_parsing: 0 } as const

export function createFunnelStore(options: { client: ClickHouseClient; tables: ClickhouseTables; metrics: Metrics }): FunnelStore {
  const { client, tables, metrics } = options

  async function select<T>(query: string, params: Record<string, unknown>): Promise<T[]> {
    const rs = await client.query({ query, query_params: params, format: 'JSONEachRow' })
    return rs.json<T>()
  }

  async function insert(table: string, label: string, values: readonly object[]): Promise<void> {
    if (values.length === 0) return
    const end = metrics.clickhouseInsertDuration.startTimer({ table: label })
    await client.insert({ table, values: values as object[], format: 'JSONEachRow', clickhouse_settings: INSERT_SETTINGS })
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

    async loadKnownState(projectIds, runIds) {
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

    async write(plan, marker) {
      // Raw rows first: they are idempotent (same key, same position), so a crash before the
      // rollup insert below only means they are written again, identically.
      await Promise.all([
        insert(tables.runStarts, 'run_starts', plan.runStarts.map(runStartRow)),
        insert(tables.runCompletions, 'run_completions', plan.completions.map(completionRow)),
        insert(tables.steps, 'steps', plan.steps.map(stepRow)),
      ])
      // A batch that counts nothing needs no marker: replaying it changes nothing (its rows are
      // idempotent), so the resume point may stay where the last counting batch left it.
      if (plan.contributions.length === 0) return
      await insert(tables.funnelRollup, 'pipeline_funnel_rollup', [
        ...rollupRows(plan.contributions),
        { project_id: '', pipeline: '', step_name: markerName(marker), bucket: 0, max_offset: marker.offset },
      ])
    },
  }
}

export function markerName(key: MarkerKey): string {
  return `${key.group}|${key.topic}|${key.partition}`
}

/** Folds contributions into one row per (project, pipeline, step, hour). */
export function rollupRows(contributions: readonly FunnelContribution[]): object[] {
  const groups = new Map<string, { c: FunnelContribution; acc: FunnelAccumulator }>()
  for (const c of contributions) {
    const k = [c.project_id, c.pipeline, c.step_name, hourBucket(c.run_started_at)].join('\u0000')
    let g = groups.get(k)
    if (!g) groups.set(k, (g = { c, acc: emptyAccumulator() }))
    addContribution(g.acc, c)
  }
  return [...groups.values()].map(({ c, acc }) => ({
    project_id: c.project_id,
    pipeline: c.pipeline,
    step_name: c.step_name,
    bucket: hourBucket(c.run_started_at) / 1000,
    runs: acc.runs,
    counted: acc.counted,
    input_count: acc.input_count,
    output_count: acc.output_count,
    dropped: acc.dropped,
    rejection_reasons: [[...acc.rejection_reasons.keys()], [...acc.rejection_reasons.values()]],
    duration_histogram: [[...acc.duration_histogram.keys()], [...acc.duration_histogram.values()]],
    cost_sum: acc.cost_sum,
    cost_count: acc.cost_count,
    position_sum: acc.position_sum,
    max_offset: 0,
  }))
}

function position(row: KafkaPosition): KafkaPosition {
  return { partition: Number(row.partition), offset: Number(row.offset) }
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString()
}

type Row<P> = KafkaPosition & { event: { id: string; project_id: string; timestamp: number; received_at: number; payload: P } }

function runStartRow({ event: e, partition, offset }: Row<RunStartPayload>) {
  return {
    project_id: e.project_id,
    run_id: e.payload.run_id,
    event_id: e.id,
    name: e.payload.name,
    tags: e.payload.tags,
    started_at: iso(e.payload.started_at ?? e.timestamp),
    received_at: iso(e.received_at),
    kafka_partition: partition,
    kafka_offset: offset,
  }
}

function completionRow({ event: e, partition, offset }: Row<RunCompletePayload>) {
  return {
    project_id: e.project_id,
    run_id: e.payload.run_id,
    event_id: e.id,
    status: e.payload.status,
    completed_at: iso(e.payload.completed_at ?? e.timestamp),
    error: e.payload.error,
    total_cost: e.payload.total_cost,
    received_at: iso(e.received_at),
    kafka_partition: partition,
    kafka_offset: offset,
  }
}

function stepRow({ event: e, partition, offset }: Row<StepCompletePayload>) {
  const p = e.payload
  return {
    project_id: e.project_id,
    run_id: p.run_id,
    step_id: p.step_id,
    event_id: e.id,
    name: p.name,
    type: p.type,
    inputs: p.inputs,
    outputs: p.outputs,
    metadata: p.metadata,
    reasoning: p.reasoning,
    cost: p.cost,
    started_at: iso(p.started_at),
    completed_at: iso(p.completed_at),
    error: p.error,
    input_count: p.input_count,
    output_count: p.output_count,
    rejection_reasons: p.rejection_reasons === null ? null : JSON.stringify(p.rejection_reasons),
    event_time: iso(e.timestamp),
    received_at: iso(e.received_at),
    kafka_partition: partition,
    kafka_offset: offset,
  }
}
