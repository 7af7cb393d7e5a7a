import { runCompletedAt, type EventEnvelope } from '../event-types.ts'
import { dropOf, durationMs } from '../funnel-math.ts'
import type { EventView } from './conditions.ts'

/**
 * The data a rule's conditions see for one event: the contract's `data` fields (free-form JSON
 * parsed back), plus the derived fields — `dropped`, `drop_rate`, `duration_ms` for steps and
 * `duration_ms` for run completions (when the run's start is known).
 */
export function eventView(event: EventEnvelope, runStartedAt: number | null = null): EventView | null {
  switch (event.type) {
    case 'log': {
      const p = event.payload
      return {
        level: p.level,
        message: p.message,
        service: p.service,
        attributes: p.attributes,
        run_id: p.run_id,
        timestamp: new Date(event.timestamp).toISOString(),
      }
    }
    case 'step_complete': {
      const p = event.payload
      return {
        ...p,
        inputs: parse(p.inputs),
        outputs: parse(p.outputs),
        metadata: parse(p.metadata),
        started_at: iso(p.started_at),
        completed_at: iso(p.completed_at),
        ...dropOf(p),
        duration_ms: durationMs(p.started_at, p.completed_at),
      }
    }
    case 'run_complete': {
      const p = event.payload
      const completedAt = runCompletedAt(event)
      return {
        ...p,
        completed_at: iso(completedAt),
        duration_ms: runStartedAt === null ? null : completedAt - runStartedAt,
      }
    }
    default:
      return null
  }
}

function parse(json: string | null): unknown {
  return json === null ? null : JSON.parse(json)
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString()
}
