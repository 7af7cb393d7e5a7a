import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { EventEnvelope } from '../../lib/event-types.ts'
import type { Flush } from '../define-processor.ts'
import type { BatchPlan } from './batch-plan.ts'
import type { FunnelStore, MarkerKey } from './funnel-store.ts'
import { createRunsFunnelHandler } from './runs-funnel-processor.ts'

// The handler against an in-memory stand-in of its own store interface (FunnelStore); the real
// Kafka and ClickHouse paths are covered end to end in test/.

const T0 = Date.UTC(2026, 10, 22, 10, 0, 0)

function flushOf(run: string): Flush {
  const events: Array<Pick<EventEnvelope, 'type' | 'payload'>> = [
    { type: 'run_start', payload: { run_id: run, name: 'recs', tags: {}, started_at: T0 } },
    {
      type: 'step_complete',
      payload: {
        step_id: randomUUID(), run_id: run, name: 'filter', type: 'filter', inputs: null, outputs: null, metadata: null,
        reasoning: null, cost: 0.5, started_at: T0 + 100, completed_at: T0 + 300, error: null, input_count: 10,
        output_count: 4, rejection_reasons: { dup: 6 },
      },
    },
  ]
  return {
    events: events.map((e, i) => ({
      partition: 0,
      offset: i,
      event: { id: randomUUID(), project_id: 'p', timestamp: T0, received_at: T0, request_id: null, ...e } as EventEnvelope,
    })),
    partitions: [{ topic: 'events', partition: 0, lastOffset: events.length - 1 }],
  }
}

/** A store whose writes land (rows, rollup and marker); `failAfterWrite` makes the next one report a failure anyway. */
function memoryStore() {
  const written: BatchPlan[] = []
  const state = { marker: null as number | null, failAfterWrite: false, loads: 0 }
  const store: FunnelStore = {
    readMarker: async (_key: MarkerKey) => state.marker,
    loadKnownState: async () => {
      state.loads++
      return { runStarts: [], steps: [], completions: [] }
    },
    async write(plan, markers) {
      written.push(plan)
      if (plan.contributions.length > 0) state.marker = Math.max(state.marker ?? -1, ...markers.map((m) => m.offset))
      if (state.failAfterWrite) {
        state.failAfterWrite = false
        throw new Error('timeout after the insert completed')
      }
    },
    ping: async () => {},
  }
  return { store, written, state }
}

describe('runs-funnel handler', () => {
  it('skips a flush whose write failed after its marker landed, instead of counting it again', async () => {
    const { store, written, state } = memoryStore()
    const handler = createRunsFunnelHandler({ store, group: 'g', cacheRuns: 100 })
    const flush = flushOf(randomUUID())
    state.failAfterWrite = true

    await expect(handler.handle(flush)).rejects.toThrow('timeout')
    // The consumer retries the same messages.
    expect(await handler.handle(flush)).toEqual({ stored: 0, duplicate: 0, skipped: 2 })

    expect(written).toHaveLength(1)
    expect(written[0]!.contributions).toHaveLength(1)
  })

  it('asks the store about a run once, then answers from what it wrote', async () => {
    const { store, state } = memoryStore()
    const handler = createRunsFunnelHandler({ store, group: 'g', cacheRuns: 100 })
    const run = randomUUID()
    const first = flushOf(run)
    await handler.handle(first)
    expect(state.loads).toBe(1)

    // A resend of the same events in a later fetch: duplicates, known without asking the store.
    const resend: Flush = {
      events: first.events.map((e, i) => ({ ...e, offset: 10 + i })),
      partitions: [{ topic: 'events', partition: 0, lastOffset: 11 }],
    }
    const outcome = await handler.handle(resend)
    expect(outcome).toMatchObject({ stored: 0, duplicate: 2 })
    expect(state.loads).toBe(1)

    // After a rebalance the cache is gone: the store is asked again.
    handler.onAssignmentChange!()
    await handler.handle({ events: resend.events.map((e) => ({ ...e, offset: e.offset + 10 })), partitions: [{ topic: 'events', partition: 0, lastOffset: 21 }] })
    expect(state.loads).toBe(2)
  })
})
