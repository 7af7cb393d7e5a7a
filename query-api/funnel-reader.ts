import type { ClickHouseClient, ClickhouseTables } from '../lib/clickhouse.ts'
import {
  addDuration,
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

/** One step name's sums over `funnel_steps` rows, as read. */
interface CountedStepsRow {
  step_name: string
  runs: number
  counted: number
  input_sum: number
  output_sum: number
  dropped_sum: number
  reasons: [string[], number[]]
  durations: number[]
  cost_sum: number
  cost_count: number
  position_sum: number
}

/**
 * `/pipelines/{name}/funnel`: whole days and hours come from the rollup the processor keeps (its
 * day rows for whole days, its hour rows for the hours around them); the partial hours at the edges of `[from, to)` from the steps it counted (`funnel_steps`), summed with the
 * same arithmetic, so the numbers are exact for any range while most of the range is never rescanned.
 */
export function createFunnelReader(options: { client: ClickHouseClient; tables: ClickhouseTables }) {
  const { client, tables: t } = options

  async function select<T>(query: string, params: Record<string, unknown>): Promise<T[]> {
    const rs = await client.query({ query, query_params: params, format: 'JSONEachRow' })
    return rs.json<T>()
  }

  /** The rollup's rows of whole hours and days: `null` for all of them (every day row). */
  async function fromRollup(projectId: string, pipeline: string, segments: readonly RollupSegment[] | null) {
    const params: Record<string, unknown> = { p: projectId, n: pipeline }
    const grains = (segments ?? []).map((g, i) => {
      params[`f${i}`] = g.from / 1000
      params[`t${i}`] = g.to / 1000
      return `(span ${g.grain === 'day' ? '>=' : '<'} ${DAY_SPAN} AND bucket >= toDateTime({f${i}:UInt32}, 'UTC') AND bucket < toDateTime({t${i}:UInt32}, 'UTC'))`
    })
    const where = `project_id = {p:String} AND pipeline = {n:String} AND ${segments ? `(${grains.join(' OR ')})` : `span >= ${DAY_SPAN}`}`
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
      params,
    )
    return new Map(rows.map((r) => [r.step_name, toAccumulator(r)]))
  }

  async function fromCountedSteps(projectId: string, pipeline: string, from: number, to: number) {
    // The counted steps of the pipeline's runs that started in [from, to): one key range of
    // funnel_steps (by pipeline, then run start), summed per step name as addContribution sums
    // them. The durations come back as they are and are bucketed here, by the code that bucketed
    // the rollup's. A replayed row's second copy (until merged) is skipped with LIMIT 1 BY the key:
    // cheaper than FINAL.
    // TRICKY: no alias may be a column's name (`run_started_at`, `input_count`...): ClickHouse
    // resolves names in WHERE and in aggregates to SELECT aliases first.
    const rows = await select<CountedStepsRow>(
      `SELECT step_name, count() AS runs, countIf(i IS NOT NULL AND o IS NOT NULL) AS counted,
              sumIf(i, o IS NOT NULL) AS input_sum, sumIf(o, i IS NOT NULL) AS output_sum,
              sumIf(greatest(i - o, 0), i IS NOT NULL AND o IS NOT NULL) AS dropped_sum,
              sumMap(mapKeys(m), mapValues(m)) AS reasons, groupArray(d) AS durations,
              sum(c) AS cost_sum, count(c) AS cost_count, sum(ps) AS position_sum
       FROM (SELECT step_name, input_count AS i, output_count AS o, duration_ms AS d, cost AS c, position_ms AS ps,
                    JSONExtract(ifNull(rejection_reasons, '{}'), 'Map(String, Int64)') AS m
             FROM ${t.funnelSteps}
             WHERE project_id = {p:String} AND pipeline = {n:String}
               AND run_started_at >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND run_started_at < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
             LIMIT 1 BY run_id, step_id)
       GROUP BY step_name`,
      { p: projectId, n: pipeline, from, to },
    )
    return new Map(rows.map((r) => [r.step_name, countedAccumulator(r)]))
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
        parts.push(fromRollup(projectId, pipeline, rollupSegments(firstFull, lastFull)))
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

/** Span of the rollup's day rows (0007_rollup_days.sql): rows below it are hours. */
const DAY_SPAN = 86_400
const DAY_MS = 24 * HOUR_MS

interface RollupSegment {
  grain: 'hour' | 'day'
  from: number
  to: number
}

/** Whole hours [from, to) as the fewest rollup rows: whole days as day rows, the rest as hours. */
export function rollupSegments(from: number, to: number): RollupSegment[] {
  const firstDay = Math.ceil(from / DAY_MS) * DAY_MS
  const lastDay = Math.floor(to / DAY_MS) * DAY_MS
  if (firstDay >= lastDay) return [{ grain: 'hour', from, to }]
  return [
    ...(from < firstDay ? [{ grain: 'hour' as const, from, to: firstDay }] : []),
    { grain: 'day', from: firstDay, to: lastDay },
    ...(lastDay < to ? [{ grain: 'hour' as const, from: lastDay, to }] : []),
  ]
}

function countedAccumulator(r: CountedStepsRow): FunnelAccumulator {
  const acc = emptyAccumulator()
  acc.runs = Number(r.runs)
  acc.counted = Number(r.counted)
  acc.input_count = Number(r.input_sum)
  acc.output_count = Number(r.output_sum)
  acc.dropped = Number(r.dropped_sum)
  r.reasons[0].forEach((k, i) => acc.rejection_reasons.set(k, Number(r.reasons[1][i])))
  for (const d of r.durations) addDuration(acc, Number(d))
  acc.cost_sum = Number(r.cost_sum)
  acc.cost_count = Number(r.cost_count)
  acc.position_sum = Number(r.position_sum)
  return acc
}

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
