import type { ClickHouseClient, ClickhouseTables } from '../lib/clickhouse.ts'
import { nullableNumber } from '../lib/step-facts-rows.ts'
import {
  addContribution,
  emptyAccumulator,
  HOUR_MS,
  mergeAccumulators,
  pipelineFunnel,
  type FunnelAccumulator,
  type PipelineFunnelEntry,
} from '../lib/funnel-math.ts'

interface RollupRow {
  step_name: string
  runs: number
  counted: number
  input_count: number
  output_count: number
  dropped: number
  rejection_reasons: [string[], number[]]
  duration_histogram: [number[], number[]]
  duration_min: number | null
  duration_max: number | null
  cost_sum: number
  cost_count: number
  position_sum: number
}

/** A `funnel_steps` row as read (64-bit integers may come as strings). */
interface CountedStepRow {
  step_name: string
  run_started_ms: number | string
  input_count: number | string | null
  output_count: number | string | null
  rejection_reasons: string | null
  duration_ms: number | null
  cost: number | null
  position_ms: number
}

/**
 * `/pipelines/{name}/funnel`: whole hours come from the rollup the processor keeps; the partial
 * hours at the edges of `[from, to)` from the steps it counted (`funnel_steps`), summed with the
 * same arithmetic, so the numbers are exact for any range while most of the range is never rescanned.
 */
export function createFunnelReader(options: { client: ClickHouseClient; tables: ClickhouseTables }) {
  const { client, tables: t } = options

  async function select<T>(query: string, params: Record<string, unknown>): Promise<T[]> {
    const rs = await client.query({ query, query_params: params, format: 'JSONEachRow' })
    return rs.json<T>()
  }

  async function fromRollup(projectId: string, pipeline: string, range: { from: number; to: number } | null) {
    const where = `project_id = {p:String} AND pipeline = {n:String}
      ${range ? "AND bucket >= toDateTime({from:UInt32}, 'UTC') AND bucket < toDateTime({to:UInt32}, 'UTC')" : ''}`
    // The duration histograms are summed as (step, bucket) rows: a month of hours holds hundreds of
    // thousands of histogram entries, and a hash aggregation of them costs less than sumMap's.
    const rows = await select<RollupRow>(
      `SELECT m.*, h.duration_histogram AS duration_histogram FROM (
         SELECT step_name, sum(runs) AS runs, sum(counted) AS counted, sum(input_count) AS input_count,
                sum(output_count) AS output_count, sum(dropped) AS dropped, sumMap(rejection_reasons) AS rejection_reasons,
                min(duration_min) AS duration_min, max(duration_max) AS duration_max,
                sum(cost_sum) AS cost_sum, sum(cost_count) AS cost_count, sum(position_sum) AS position_sum
         FROM ${t.funnelRollup} WHERE ${where} GROUP BY step_name) AS m
       LEFT JOIN (
         SELECT step_name, (groupArray(b), groupArray(n)) AS duration_histogram FROM (
           SELECT step_name, b, sum(n) AS n FROM ${t.funnelRollup}
           ARRAY JOIN duration_histogram.1 AS b, duration_histogram.2 AS n
           WHERE ${where} GROUP BY step_name, b)
         GROUP BY step_name) AS h ON h.step_name = m.step_name`,
      { p: projectId, n: pipeline, ...(range ? { from: range.from / 1000, to: range.to / 1000 } : {}) },
    )
    return new Map(rows.map((r) => [r.step_name, toAccumulator(r)]))
  }

  async function fromCountedSteps(projectId: string, pipeline: string, from: number, to: number) {
    // The counted steps of the pipeline's runs that started in [from, to): one key range of
    // funnel_steps (by pipeline, then run start). A replayed row's second copy (until merged) is
    // skipped with LIMIT 1 BY the key: cheaper than FINAL.
    // TRICKY: no alias may be `run_started_at`: ClickHouse resolves WHERE names to SELECT aliases
    // first, which would compare epoch milliseconds with a DateTime64 and match no row.
    const rows = await select<CountedStepRow>(
      `SELECT step_name, toUnixTimestamp64Milli(run_started_at) AS run_started_ms, input_count, output_count, rejection_reasons,
              duration_ms, cost, position_ms
       FROM ${t.funnelSteps}
       WHERE project_id = {p:String} AND pipeline = {n:String}
         AND run_started_at >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND run_started_at < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
       LIMIT 1 BY run_id, step_id`,
      { p: projectId, n: pipeline, from, to },
    )
    const byStep = new Map<string, FunnelAccumulator>()
    for (const row of rows) {
      let acc = byStep.get(row.step_name)
      if (!acc) byStep.set(row.step_name, (acc = emptyAccumulator()))
      addContribution(acc, {
        project_id: projectId,
        pipeline,
        step_name: row.step_name,
        run_started_at: Number(row.run_started_ms),
        input_count: nullableNumber(row.input_count),
        output_count: nullableNumber(row.output_count),
        rejection_reasons: row.rejection_reasons === null ? null : (JSON.parse(row.rejection_reasons) as Record<string, number>),
        duration_ms: nullableNumber(row.duration_ms),
        cost: nullableNumber(row.cost),
        position_ms: Number(row.position_ms),
      })
    }
    return byStep
  }

  return {
    async pipelineFunnel(projectId: string, pipeline: string, range: { from?: number | undefined; to?: number | undefined }): Promise<PipelineFunnelEntry[]> {
      if (range.from === undefined && range.to === undefined) return pipelineFunnel(await fromRollup(projectId, pipeline, null))
      const from = range.from ?? 0
      const to = range.to ?? Date.UTC(2200, 0, 1)
      if (to <= from) return []
      const firstFull = Math.ceil(from / HOUR_MS) * HOUR_MS
      const lastFull = Math.floor(to / HOUR_MS) * HOUR_MS
      const parts: Array<Promise<Map<string, FunnelAccumulator>>> = []
      if (firstFull >= lastFull) parts.push(fromCountedSteps(projectId, pipeline, from, to))
      else {
        parts.push(fromRollup(projectId, pipeline, { from: firstFull, to: lastFull }))
        if (from < firstFull) parts.push(fromCountedSteps(projectId, pipeline, from, firstFull))
        if (lastFull < to) parts.push(fromCountedSteps(projectId, pipeline, lastFull, to))
      }
      const merged = new Map<string, FunnelAccumulator>()
      for (const part of await Promise.all(parts)) {
        for (const [name, acc] of part) {
          const into = merged.get(name)
          if (into) mergeAccumulators(into, acc)
          else merged.set(name, acc)
        }
      }
      return pipelineFunnel(merged)
    },
  }
}

export type FunnelReader = ReturnType<typeof createFunnelReader>

function toAccumulator(r: RollupRow): FunnelAccumulator {
  return {
    runs: Number(r.runs),
    counted: Number(r.counted),
    input_count: Number(r.input_count),
    output_count: Number(r.output_count),
    dropped: Number(r.dropped),
    rejection_reasons: new Map(r.rejection_reasons[0].map((k, i) => [k, Number(r.rejection_reasons[1][i])])),
    duration_histogram: new Map(r.duration_histogram[0].map((k, i) => [Number(k), Number(r.duration_histogram[1][i])])),
    duration_min: r.duration_min === null ? null : Number(r.duration_min),
    duration_max: r.duration_max === null ? null : Number(r.duration_max),
    cost_sum: Number(r.cost_sum),
    cost_count: Number(r.cost_count),
    position_sum: Number(r.position_sum),
  }
}
