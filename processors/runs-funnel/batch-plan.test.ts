import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { EventEnvelope } from '../../lib/event-types.ts'
import { planBatch, type KnownState, type PositionedEvent } from './batch-plan.ts'

const P = 'project-1'
const T0 = Date.UTC(2026, 10, 22, 10, 0, 0)
const none: KnownState = { runStarts: [], steps: [], completions: [] }

function runStart(runId: string, offset: number, name = 'recs'): PositionedEvent {
  return at(offset, { type: 'run_start', payload: { run_id: runId, name, tags: {}, started_at: T0 } })
}

function step(runId: string, stepId: string, offset: number, counts: [number, number] = [10, 4]): PositionedEvent {
  return at(offset, {
    type: 'step_complete',
    payload: {
      step_id: stepId,
      run_id: runId,
      name: 'filter',
      type: 'filter',
      inputs: null,
      outputs: null,
      metadata: null,
      reasoning: null,
      cost: 0.5,
      started_at: T0 + 100,
      completed_at: T0 + 300,
      error: null,
      input_count: counts[0],
      output_count: counts[1],
      rejection_reasons: { dup: counts[0] - counts[1] },
    },
  })
}

function complete(runId: string, offset: number): PositionedEvent {
  return at(offset, { type: 'run_complete', payload: { run_id: runId, status: 'completed', completed_at: null, error: null, total_cost: null } })
}

function at(offset: number, e: Pick<EventEnvelope, 'type' | 'payload'>): PositionedEvent {
  return {
    partition: 0,
    offset,
    event: { id: randomUUID(), project_id: P, timestamp: T0, received_at: T0, request_id: null, ...e } as EventEnvelope,
  }
}

describe('planBatch', () => {
  it('counts a step toward its pipeline when its run_start came first in the batch', () => {
    const run = randomUUID()
    const plan = planBatch([runStart(run, 1), step(run, randomUUID(), 2)], none)
    expect(plan.runStarts).toHaveLength(1)
    expect(plan.steps).toHaveLength(1)
    expect(plan.contributions).toEqual([
      expect.objectContaining({ pipeline: 'recs', step_name: 'filter', input_count: 10, output_count: 4, duration_ms: 200, position_ms: 100 }),
    ])
  })

  it('counts a step that arrived before its run_start once, when the run_start arrives', () => {
    const run = randomUUID()
    const plan = planBatch([step(run, randomUUID(), 5), runStart(run, 9)], none)
    expect(plan.contributions).toHaveLength(1)
  })

  it('does not count a step whose run_start has not arrived yet', () => {
    const plan = planBatch([step(randomUUID(), randomUUID(), 1)], none)
    expect(plan.steps).toHaveLength(1)
    expect(plan.contributions).toEqual([])
  })

  it('pulls steps stored by earlier batches into the funnel when the run_start arrives later', () => {
    const run = randomUUID()
    const stepId = randomUUID()
    const known: KnownState = {
      runStarts: [],
      completions: [],
      steps: [
        {
          project_id: P,
          run_id: run,
          step_id: stepId,
          name: 'filter',
          started_at: T0,
          completed_at: T0 + 50,
          event_time: T0,
          input_count: 3,
          output_count: 1,
          rejection_reasons: null,
          cost: null,
          partition: 0,
          offset: 4,
        },
      ],
    }
    const plan = planBatch([runStart(run, 20)], known)
    expect(plan.contributions).toEqual([expect.objectContaining({ input_count: 3, output_count: 1, duration_ms: 50 })])
  })

  it('treats a resent event (same step id, later offset) as a duplicate and counts it nowhere', () => {
    const run = randomUUID()
    const stepId = randomUUID()
    const first = planBatch([runStart(run, 1), step(run, stepId, 2), step(run, stepId, 3), complete(run, 4), complete(run, 5), runStart(run, 6)], none)
    expect(first.steps).toHaveLength(1)
    expect(first.completions).toHaveLength(1)
    expect(first.runStarts).toHaveLength(1)
    expect(first.duplicates).toBe(3)
    expect(first.contributions).toHaveLength(1)
  })

  it('recognises a duplicate of an event stored by an earlier batch', () => {
    const run = randomUUID()
    const stepId = randomUUID()
    const known: KnownState = {
      runStarts: [{ project_id: P, run_id: run, name: 'recs', started_at: T0, partition: 0, offset: 1 }],
      steps: [
        {
          project_id: P, run_id: run, step_id: stepId, name: 'filter', started_at: T0, completed_at: T0, event_time: T0,
          input_count: 1, output_count: 1, rejection_reasons: null, cost: null, partition: 0, offset: 2,
        },
      ],
      completions: [],
    }
    const plan = planBatch([step(run, stepId, 7), runStart(run, 8)], known)
    expect(plan).toMatchObject({ steps: [], runStarts: [], duplicates: 2, contributions: [] })
  })

  it('replays a batch that crashed after its rows were written: same offsets count again, exactly once', () => {
    const run = randomUUID()
    const stepId = randomUUID()
    const batch = [runStart(run, 9), step(run, stepId, 12)]
    // The crashed attempt wrote both rows at their own offsets but no rollup marker.
    const known: KnownState = {
      runStarts: [{ project_id: P, run_id: run, name: 'recs', started_at: T0, partition: 0, offset: 9 }],
      steps: [
        {
          project_id: P, run_id: run, step_id: stepId, name: 'filter', started_at: T0 + 100, completed_at: T0 + 300, event_time: T0,
          input_count: 10, output_count: 4, rejection_reasons: { dup: 6 }, cost: 0.5, partition: 0, offset: 12,
        },
      ],
      completions: [],
    }
    const replay = planBatch(batch, known)
    expect(replay.duplicates).toBe(0)
    expect(replay.runStarts).toHaveLength(1)
    expect(replay.steps).toHaveLength(1)
    expect(replay.contributions).toHaveLength(1)
  })

  it('replays a crashed batch whose step came before its run_start: the step counts once', () => {
    const run = randomUUID()
    const stepId = randomUUID()
    const known: KnownState = {
      runStarts: [{ project_id: P, run_id: run, name: 'recs', started_at: T0, partition: 0, offset: 9 }],
      steps: [storedStep(run, stepId, 5)],
      completions: [],
    }
    const replay = planBatch([step(run, stepId, 5), runStart(run, 9)], known)
    expect(replay.duplicates).toBe(0)
    expect(replay.contributions).toHaveLength(1)
  })

  it('counts a stored step once when the store returns two copies of its row (a replay wrote it again)', () => {
    const run = randomUUID()
    const stepId = randomUUID()
    const known: KnownState = { runStarts: [], steps: [storedStep(run, stepId, 4), storedStep(run, stepId, 4)], completions: [] }
    const plan = planBatch([runStart(run, 20)], known)
    expect(plan.contributions).toHaveLength(1)
  })

  it('orders by offset whatever order the events are given in', () => {
    const run = randomUUID()
    const plan = planBatch([step(run, randomUUID(), 2), runStart(run, 1)], none)
    expect(plan.contributions).toHaveLength(1)
    expect(plan.runStarts[0]!.offset).toBe(1)
  })

  it('ignores log events', () => {
    const plan = planBatch(
      [at(1, { type: 'log', payload: { level: 'info', message: 'hi', service: null, attributes: {}, run_id: null } })],
      none,
    )
    expect(plan).toMatchObject({ ignored: 1, runStarts: [], steps: [], completions: [] })
  })

  it('keeps projects apart even when ids collide', () => {
    const run = randomUUID()
    const other = runStart(run, 2)
    other.event = { ...other.event, project_id: 'project-2' }
    const plan = planBatch([runStart(run, 1), other], none)
    expect(plan.runStarts).toHaveLength(2)
    expect(plan.duplicates).toBe(0)
  })

  describe('open runs', () => {
    const rows = (plan: ReturnType<typeof planBatch>) => plan.openRuns.map((r) => [r.run_id, r.started_at, r.closed, r.start?.event.payload.name ?? null])

    it('opens a run at its run_start and closes the same key at its completion', () => {
      const run = randomUUID()
      const first = planBatch([runStart(run, 1), step(run, randomUUID(), 2)], none)
      expect(rows(first)).toEqual([[run, T0, 0, 'recs']])
      const known: KnownState = { runStarts: first.known.runStarts, steps: [], completions: [] }
      expect(rows(planBatch([complete(run, 3)], known))).toEqual([[run, T0, 1, null]])
    })

    it('writes no row for a run that starts and completes in one batch, whichever comes first', () => {
      const a = randomUUID()
      expect(rows(planBatch([runStart(a, 1), step(a, randomUUID(), 2), complete(a, 3)], none))).toEqual([])
      const b = randomUUID()
      const early = planBatch([complete(b, 1)], none)
      expect(rows(early)).toEqual([])
      expect(rows(planBatch([runStart(b, 2)], { ...none, completions: early.known.completions }))).toEqual([])
    })

    it('closes a run whose start the store holds already, even when this batch replays that start', () => {
      const run = randomUUID()
      const first = planBatch([runStart(run, 1)], none)
      expect(rows(first)).toEqual([[run, T0, 0, 'recs']])
      // A retry that fetched more: the same start (same position) and now the completion.
      expect(rows(planBatch([runStart(run, 1), complete(run, 2)], first.known))).toEqual([[run, T0, 1, null]])
    })

    it('writes nothing for a duplicate run_start or completion', () => {
      const run = randomUUID()
      const first = planBatch([runStart(run, 1), complete(run, 2)], none)
      expect(rows(planBatch([runStart(run, 5), complete(run, 6)], first.known))).toEqual([])
    })
  })
})

/** The row `step(runId, stepId, offset)` leaves in the store. */
function storedStep(runId: string, stepId: string, offset: number): KnownState['steps'][number] {
  return {
    project_id: P, run_id: runId, step_id: stepId, name: 'filter', started_at: T0 + 100, completed_at: T0 + 300, event_time: T0,
    input_count: 10, output_count: 4, rejection_reasons: { dup: 6 }, cost: 0.5, partition: 0, offset,
  }
}
