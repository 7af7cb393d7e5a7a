import { runCompletedAt, runStartedAt, type RunCompletePayload, type RunStartPayload } from '../../lib/event-types.ts'
import type { BatchPlan } from './batch-plan.ts'

/** Columns of `run_state_input` (migrations/clickhouse/0009_run_state_input.sql), in row order. */
export const RUN_STATE_INPUT_COLUMNS = ['project_id', 'run_id', 'start', 'completion', 'step_ids', 'costs'] as const

type Stored = Pick<BatchPlan, 'runStarts' | 'steps' | 'completions'>

/**
 * One `run_state_input` row per run whose start, completion or steps a batch stores: the start and
 * completion as the JSON arrays `run_state` holds (query-api/run-reader.ts parses them), the steps
 * once each with their costs (a step sent twice in the batch keeps its highest cost, as maxMap would).
 * The view of 0009 hashes the step ids.
 */
export function runStateRows(plan: Stored): unknown[][] {
  const runs = new Map<string, { project_id: string; run_id: string; start: string | null; completion: string | null; steps: Map<string, number | null> }>()
  const runOf = (projectId: string, runId: string) => {
    const k = `${projectId}\u0000${runId}`
    let r = runs.get(k)
    if (!r) runs.set(k, (r = { project_id: projectId, run_id: runId, start: null, completion: null, steps: new Map() }))
    return r
  }
  for (const { event: e } of plan.runStarts) runOf(e.project_id, e.payload.run_id).start = startJson(e)
  for (const { event: e } of plan.completions) runOf(e.project_id, e.payload.run_id).completion = completionJson(e)
  for (const { event: e } of plan.steps) {
    const steps = runOf(e.project_id, e.payload.run_id).steps
    steps.set(e.payload.step_id, higherCost(steps.get(e.payload.step_id) ?? null, e.payload.cost))
  }
  return [...runs.values()].map((r) => [r.project_id, r.run_id, r.start, r.completion, [...r.steps.keys()], [...r.steps.values()]])
}

/** The higher of two costs, either of which may be missing (null). */
function higherCost(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b)
}

// The stored columns are DateTime64(3): whole milliseconds, as run_starts and run_completions keep them.
const ms = (t: number) => Math.floor(t)

/** [name, tags, started_at ms, received_at ms]: the run_start as `run_state.start` holds it. */
function startJson(e: { timestamp: number; received_at: number; payload: RunStartPayload }): string {
  return JSON.stringify([e.payload.name, e.payload.tags, ms(runStartedAt(e)), ms(e.received_at)])
}

/** [status, completed_at ms, error, total_cost]: the run_complete as `run_state.completion` holds it. */
function completionJson(e: { timestamp: number; payload: RunCompletePayload }): string {
  const p = e.payload
  return JSON.stringify([p.status, ms(runCompletedAt(e)), p.error ?? null, p.total_cost ?? null])
}

