import type { StepFacts } from './funnel-math.ts'

/**
 * The columns of ClickHouse's `steps` table a funnel contribution needs, selected as epoch ms, and
 * their conversion to `StepFacts`: how the runs-funnel processor reads back the steps it stored.
 */
export const STEP_FACTS_COLUMNS = `project_id, run_id, name,
  toUnixTimestamp64Milli(started_at) AS started_at, toUnixTimestamp64Milli(completed_at) AS completed_at,
  toUnixTimestamp64Milli(event_time) AS event_time, input_count, output_count, rejection_reasons, cost`

/** A row as the JSON formats return those columns (64-bit integers may come as strings). */
export interface StepFactsRow {
  project_id: string
  run_id: string
  name: string
  started_at: number | string | null
  completed_at: number | string | null
  event_time: number | string
  input_count: number | string | null
  output_count: number | string | null
  rejection_reasons: string | null
  cost: number | null
}

export function toStepFacts(row: StepFactsRow): StepFacts & { run_id: string } {
  return {
    project_id: row.project_id,
    run_id: row.run_id,
    name: row.name,
    started_at: nullableNumber(row.started_at),
    completed_at: nullableNumber(row.completed_at),
    event_time: Number(row.event_time),
    input_count: nullableNumber(row.input_count),
    output_count: nullableNumber(row.output_count),
    rejection_reasons: row.rejection_reasons === null ? null : (JSON.parse(row.rejection_reasons) as Record<string, number>),
    cost: nullableNumber(row.cost),
  }
}

export function nullableNumber(v: number | string | null): number | null {
  return v === null ? null : Number(v)
}
