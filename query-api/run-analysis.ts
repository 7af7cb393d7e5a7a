import { dropOf, durationMs } from '../lib/funnel-math.ts'
import type { Run, Step } from './run-reader.ts'

export interface RunAnalysis {
  run: Run
  funnel: Array<{
    step_id: string
    name: string
    type: string
    input_count: number | null
    output_count: number | null
    dropped: number | null
    drop_rate: number | null
    rejection_reasons: Record<string, number>
    duration_ms: number | null
    cost: number | null
  }>
  summary: {
    initial_count: number | null
    final_count: number | null
    overall_drop_rate: number | null
    total_cost: number | null
    total_duration_ms: number | null
  }
  final_outputs: unknown
}

const ms = (s: string | null) => (s === null ? null : Date.parse(s))

/** `/analyze/{run_id}`: the run's funnel, step by step, and its summary (steps in run order). */
export function analyzeRun(run: Run, steps: readonly Step[]): RunAnalysis {
  const funnel = steps.map((s) => ({
    step_id: s.step_id,
    name: s.name,
    type: s.type,
    input_count: s.input_count,
    output_count: s.output_count,
    ...dropOf(s),
    rejection_reasons: s.rejection_reasons ?? {},
    duration_ms: durationMs(ms(s.started_at), ms(s.completed_at)),
    cost: s.cost,
  }))
  const counted = funnel.filter((f) => f.dropped !== null)
  const initial = counted[0]?.input_count ?? null
  const final = counted[counted.length - 1]?.output_count ?? null
  return {
    run,
    funnel,
    summary: {
      initial_count: initial,
      final_count: final,
      overall_drop_rate: initial === null || final === null ? null : initial === 0 ? 0 : 1 - final / initial,
      total_cost: run.total_cost,
      total_duration_ms: runDuration(run, steps),
    },
    final_outputs: steps.length > 0 ? steps[steps.length - 1]!.outputs : null,
  }
}

/** A finished run's wall time; for a running one, from its start to the last step's end so far. */
function runDuration(run: Run, steps: readonly Step[]): number | null {
  const start = Date.parse(run.started_at)
  if (run.completed_at !== null) return Date.parse(run.completed_at) - start
  const ends = steps.map((s) => ms(s.completed_at)).filter((v): v is number => v !== null)
  return ends.length > 0 ? Math.max(...ends) - start : null
}
