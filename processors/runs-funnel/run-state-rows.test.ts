import { describe, expect, it } from 'vitest'
import type { EventEnvelope } from '../../lib/event-types.ts'
import type { PositionedEvent } from './batch-plan.ts'
import { runStateRows } from './run-state-rows.ts'

const T0 = Date.UTC(2026, 11, 3, 9, 0, 0)
let offset = 0
const at = (project: string, e: Pick<EventEnvelope, 'type' | 'payload'>, timestamp = T0): PositionedEvent =>
  ({ partition: 0, offset: offset++, event: { id: `e${offset}`, project_id: project, timestamp, received_at: T0 + 5, ...e } }) as PositionedEvent

const step = (project: string, runId: string, stepId: string, cost: number | null) =>
  at(project, {
    type: 'step_complete',
    payload: {
      step_id: stepId, run_id: runId, name: 'rank', type: 'llm', inputs: null, outputs: null, metadata: null, reasoning: null, cost,
      started_at: null, completed_at: null, error: null, input_count: 3, output_count: 1, rejection_reasons: null,
    },
  })

function split(events: PositionedEvent[]) {
  const of = <T extends EventEnvelope['type']>(t: T) => events.filter((e) => e.event.type === t) as never[]
  return { runStarts: of('run_start'), steps: of('step_complete'), completions: of('run_complete') }
}

describe('runStateRows', () => {
  it('folds a run’s start, steps and completion into one row, and keeps runs of other projects apart', () => {
    const rows = runStateRows(
      split([
        at('p1', { type: 'run_start', payload: { run_id: 'r1', name: 'recs', tags: { env: 'prod' }, started_at: T0 + 0.7 } }),
        step('p1', 'r1', 's1', 0.25),
        step('p1', 'r1', 's2', null),
        step('p1', 'r1', 's1', 0.5), // the same step again, a higher cost: kept once, with 0.5
        at('p1', { type: 'run_complete', payload: { run_id: 'r1', status: 'failed', completed_at: null, error: 'boom', total_cost: 1.5 } }, T0 + 900),
        step('p2', 'r1', 's9', 2),
      ]),
    )
    expect(rows).toEqual([
      ['p1', 'r1', JSON.stringify(['recs', { env: 'prod' }, T0, T0 + 5]), JSON.stringify(['failed', T0 + 900, 'boom', 1.5]), ['s1', 's2'], [0.5, null]],
      ['p2', 'r1', null, null, ['s9'], [2]],
    ])
  })

  it('gives a run with only a start no steps, and a batch that stores nothing no rows', () => {
    const rows = runStateRows(split([at('p1', { type: 'run_start', payload: { run_id: 'r2', name: 'n', tags: {}, started_at: null } }, T0 + 42)]))
    expect(rows).toEqual([['p1', 'r2', JSON.stringify(['n', {}, T0 + 42, T0 + 5]), null, [], []]])
    expect(runStateRows(split([]))).toEqual([])
  })
})
