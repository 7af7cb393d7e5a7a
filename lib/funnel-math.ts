/**
 * The arithmetic of run funnels, shared by the runs-funnel processor (rollup deltas), the query API
 * (/analyze and /pipelines/{name}/funnel) and the tests. Pure functions, no I/O.
 */

export interface StepCounts {
  input_count: number | null
  output_count: number | null
}

/** `dropped` and `drop_rate` of one step as the contract defines them; both null without counts. */
export function dropOf(step: StepCounts): { dropped: number | null; drop_rate: number | null } {
  if (step.input_count === null || step.output_count === null) return { dropped: null, drop_rate: null }
  const dropped = Math.max(step.input_count - step.output_count, 0)
  return { dropped, drop_rate: step.input_count === 0 ? 0 : dropped / step.input_count }
}

export function durationMs(startedAt: number | null, completedAt: number | null): number | null {
  return startedAt === null || completedAt === null ? null : completedAt - startedAt
}

// Durations are kept in a log-scale histogram (1 % wide buckets) so pipeline quantiles can be
// summed across batches and hours; a quantile read back is within 0.5 % of the true value.
const GROWTH = 1.01
const LOG_GROWTH = Math.log(GROWTH)
export const MAX_HISTOGRAM_BUCKET = 65_535

export function durationBucket(ms: number): number {
  if (!(ms >= 1)) return 0
  return Math.min(1 + Math.floor(Math.log(ms) / LOG_GROWTH), MAX_HISTOGRAM_BUCKET)
}

/** The value a bucket stands for: its geometric middle (0 for bucket 0). */
export function bucketValue(bucket: number): number {
  return bucket === 0 ? 0 : GROWTH ** (bucket - 1 + 0.5)
}

/** Nearest-rank quantile of a histogram (bucket → count); null when it is empty. */
export function histogramQuantile(histogram: ReadonlyMap<number, number>, q: number): number | null {
  let total = 0
  for (const n of histogram.values()) total += n
  if (total === 0) return null
  const rank = Math.max(1, Math.ceil(q * total))
  let seen = 0
  for (const bucket of [...histogram.keys()].sort((a, b) => a - b)) {
    seen += histogram.get(bucket)!
    if (seen >= rank) return Math.round(bucketValue(bucket) * 1000) / 1000
  }
  return null
}

/** One step's share of its pipeline's funnel, attributed to the hour its run started. */
export interface FunnelContribution {
  project_id: string
  pipeline: string
  step_name: string
  run_started_at: number
  input_count: number | null
  output_count: number | null
  rejection_reasons: Record<string, number> | null
  duration_ms: number | null
  cost: number | null
  /** When the step started, relative to its run's start: orders steps "as they usually run". */
  position_ms: number
}

export interface FunnelAccumulator {
  runs: number
  counted: number
  input_count: number
  output_count: number
  dropped: number
  rejection_reasons: Map<string, number>
  duration_histogram: Map<number, number>
  /** Least and greatest duration seen (null: none, or only rows from before these were kept). */
  duration_min: number | null
  duration_max: number | null
  cost_sum: number
  cost_count: number
  position_sum: number
}

export function emptyAccumulator(): FunnelAccumulator {
  return {
    runs: 0,
    counted: 0,
    input_count: 0,
    output_count: 0,
    dropped: 0,
    rejection_reasons: new Map(),
    duration_histogram: new Map(),
    duration_min: null,
    duration_max: null,
    cost_sum: 0,
    cost_count: 0,
    position_sum: 0,
  }
}

export function addContribution(acc: FunnelAccumulator, c: FunnelContribution): void {
  acc.runs += 1
  acc.position_sum += c.position_ms
  const { dropped } = dropOf(c)
  if (dropped !== null) {
    acc.counted += 1
    acc.input_count += c.input_count!
    acc.output_count += c.output_count!
    acc.dropped += dropped
  }
  for (const [reason, n] of Object.entries(c.rejection_reasons ?? {})) {
    acc.rejection_reasons.set(reason, (acc.rejection_reasons.get(reason) ?? 0) + n)
  }
  if (c.duration_ms !== null) addDuration(acc, c.duration_ms)
  if (c.cost !== null) {
    acc.cost_sum += c.cost
    acc.cost_count += 1
  }
}

/** One step duration into the histogram and the observed bounds. */
export function addDuration(acc: FunnelAccumulator, ms: number): void {
  const b = durationBucket(ms)
  acc.duration_histogram.set(b, (acc.duration_histogram.get(b) ?? 0) + 1)
  acc.duration_min = acc.duration_min === null ? ms : Math.min(acc.duration_min, ms)
  acc.duration_max = acc.duration_max === null ? ms : Math.max(acc.duration_max, ms)
}

export function mergeAccumulators(into: FunnelAccumulator, from: FunnelAccumulator): void {
  into.runs += from.runs
  into.counted += from.counted
  into.input_count += from.input_count
  into.output_count += from.output_count
  into.dropped += from.dropped
  into.cost_sum += from.cost_sum
  into.cost_count += from.cost_count
  into.position_sum += from.position_sum
  for (const [k, v] of from.rejection_reasons) into.rejection_reasons.set(k, (into.rejection_reasons.get(k) ?? 0) + v)
  for (const [k, v] of from.duration_histogram) into.duration_histogram.set(k, (into.duration_histogram.get(k) ?? 0) + v)
  into.duration_min = bound(Math.min, into.duration_min, from.duration_min)
  into.duration_max = bound(Math.max, into.duration_max, from.duration_max)
}

function bound(pick: (a: number, b: number) => number, a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : pick(a, b)
}

/** A histogram quantile kept within the observed durations, when they are known. */
function boundedQuantile(a: FunnelAccumulator, q: number): number | null {
  const v = histogramQuantile(a.duration_histogram, q)
  if (v === null) return null
  const lo = a.duration_min ?? -Infinity
  const hi = a.duration_max ?? Infinity
  return Math.min(Math.max(v, lo), hi)
}

export interface PipelineFunnelEntry {
  name: string
  runs: number
  input_count: number | null
  output_count: number | null
  dropped: number | null
  drop_rate: number | null
  rejection_reasons: Record<string, number>
  p50_duration_ms: number | null
  p95_duration_ms: number | null
  avg_cost: number | null
}

/** The contract's pipeline funnel from per-step accumulators, ordered by where steps usually run. */
export function pipelineFunnel(byStep: ReadonlyMap<string, FunnelAccumulator>): PipelineFunnelEntry[] {
  return [...byStep.entries()]
    .filter(([, a]) => a.runs > 0)
    .sort(([na, a], [nb, b]) => a.position_sum / a.runs - b.position_sum / b.runs || na.localeCompare(nb))
    .map(([name, a]) => ({
      name,
      runs: a.runs,
      input_count: a.counted > 0 ? a.input_count : null,
      output_count: a.counted > 0 ? a.output_count : null,
      dropped: a.counted > 0 ? a.dropped : null,
      drop_rate: a.counted > 0 ? (a.input_count === 0 ? 0 : a.dropped / a.input_count) : null,
      // ClickHouse's sumMap drops zero sums, so zeros are dropped here too, whichever path summed them.
      rejection_reasons: Object.fromEntries(
        [...a.rejection_reasons.entries()].filter(([, n]) => n !== 0).sort(([x], [y]) => x.localeCompare(y)),
      ),
      p50_duration_ms: boundedQuantile(a, 0.5),
      p95_duration_ms: boundedQuantile(a, 0.95),
      avg_cost: a.cost_count > 0 ? a.cost_sum / a.cost_count : null,
    }))
}

/** The fields of a stored step that its funnel contribution needs. */
export interface StepFacts {
  project_id: string
  name: string
  started_at: number | null
  completed_at: number | null
  event_time: number
  input_count: number | null
  output_count: number | null
  rejection_reasons: Record<string, number> | null
  cost: number | null
}

/** When a step starts: its own start, else its end, else when its event happened. */
export function stepStart(step: Pick<StepFacts, 'started_at' | 'completed_at' | 'event_time'>): number {
  return step.started_at ?? step.completed_at ?? step.event_time
}

/** A step's contribution to the funnel of its run's pipeline. */
export function stepContribution(step: StepFacts, run: { name: string; started_at: number }): FunnelContribution {
  return {
    project_id: step.project_id,
    pipeline: run.name,
    step_name: step.name,
    run_started_at: run.started_at,
    input_count: step.input_count,
    output_count: step.output_count,
    rejection_reasons: step.rejection_reasons,
    duration_ms: durationMs(step.started_at, step.completed_at),
    cost: step.cost,
    position_ms: stepStart(step) - run.started_at,
  }
}

export const HOUR_MS = 3_600_000

export function hourBucket(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS
}
