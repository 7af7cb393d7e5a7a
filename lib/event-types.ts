/**
 * The normalized events that travel through Kafka. `/ingest` validates the contract's JSON into
 * these shapes; the Avro codec writes and reads exactly these; processors consume them.
 * Times are epoch milliseconds. Free-form objects (`inputs`, `outputs`, `metadata`) stay JSON
 * strings end to end: nothing between the SDK and ClickHouse needs to look inside them.
 */

export const EVENT_TYPES = ['run_start', 'step_complete', 'run_complete', 'log'] as const
export type EventType = (typeof EVENT_TYPES)[number]

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'fatal'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export interface RunStartPayload {
  run_id: string
  name: string
  tags: Record<string, string>
  started_at: number | null
}

export interface StepCompletePayload {
  step_id: string
  run_id: string
  name: string
  type: string
  inputs: string | null
  outputs: string | null
  metadata: string | null
  reasoning: string | null
  cost: number | null
  started_at: number | null
  completed_at: number | null
  error: string | null
  input_count: number | null
  output_count: number | null
  rejection_reasons: Record<string, number> | null
}

export interface RunCompletePayload {
  run_id: string
  status: 'completed' | 'failed'
  completed_at: number | null
  error: string | null
  total_cost: number | null
}

export interface LogPayload {
  level: LogLevel
  message: string
  service: string | null
  attributes: Record<string, string | number | boolean>
  run_id: string | null
}

export interface PayloadByType {
  run_start: RunStartPayload
  step_complete: StepCompletePayload
  run_complete: RunCompletePayload
  log: LogPayload
}

interface EnvelopeOf<T extends EventType> {
  /** The event id: the client's UUID, or one the server made. Dedup key everywhere. */
  id: string
  project_id: string
  type: T
  /** When the event happened (the client's `timestamp`, else `received_at`). */
  timestamp: number
  /** When Sluice's ingest accepted it. */
  received_at: number
  /** The HTTP request id that carried it, for log correlation. */
  request_id: string | null
  payload: PayloadByType[T]
}

export type EventEnvelope = { [T in EventType]: EnvelopeOf<T> }[EventType]

/** When a run started: its run_start's `started_at`, else when the event happened. Epoch ms. */
export function runStartedAt(e: { timestamp: number; payload: Pick<RunStartPayload, 'started_at'> }): number {
  return e.payload.started_at ?? e.timestamp
}

/** When a run completed: its run_complete's `completed_at`, else when the event happened. Epoch ms. */
export function runCompletedAt(e: { timestamp: number; payload: Pick<RunCompletePayload, 'completed_at'> }): number {
  return e.payload.completed_at ?? e.timestamp
}
