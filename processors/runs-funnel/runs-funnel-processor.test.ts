import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createEventCodec } from '../../lib/avro/event-codec.ts'
import type { EventEnvelope } from '../../lib/event-types.ts'
import type { BatchHandler, ConsumedBatch, EventConsumer } from '../../lib/kafka/event-consumer.ts'
import { createLogger } from '../../lib/logger.ts'
import { createMetrics } from '../../lib/metrics.ts'
import type { BatchPlan } from './batch-plan.ts'
import type { FunnelStore, MarkerKey } from './funnel-store.ts'
import { createRunsFunnelProcessor } from './runs-funnel-processor.ts'

// The processor against in-memory stand-ins of its own interfaces (EventConsumer, FunnelStore);
// the real Kafka and ClickHouse paths are covered end to end in test/.

const T0 = Date.UTC(2026, 10, 22, 10, 0, 0)

describe('runs-funnel processor', () => {
  it('skips a batch whose write failed after its marker landed, instead of counting it again', async () => {
    const codec = createEventCodec({})
    const run = randomUUID()
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
    const batch: ConsumedBatch = {
      topic: 'events',
      partition: 0,
      messages: await Promise.all(
        events.map(async (e, i) => ({
          offset: String(i),
          key: Buffer.from(run),
          headers: {},
          value: await codec.encode({ id: randomUUID(), project_id: 'p', timestamp: T0, received_at: T0, request_id: null, ...e } as EventEnvelope),
        })),
      ),
    }

    // A store whose first write lands (rows, rollup and marker) and then reports a failure.
    const written: BatchPlan[] = []
    let marker: number | null = null
    let failNextWrite = true
    const store: FunnelStore = {
      readMarker: async (_key: MarkerKey) => marker,
      loadKnownState: async () => ({ runStarts: [], steps: [], completions: [] }),
      async write(plan, m) {
        written.push(plan)
        marker = m.offset
        if (failNextWrite) {
          failNextWrite = false
          throw new Error('timeout after the insert completed')
        }
      },
    }
    let handler: BatchHandler | undefined
    const consumer: EventConsumer = {
      start: async (h) => {
        handler = h
      },
      stop: async () => {},
      onAssignmentChange: () => {},
    }
    const processor = createRunsFunnelProcessor({
      consumer,
      codec,
      store,
      deadLetter: async () => {},
      group: 'g',
      metrics: createMetrics({ defaultMetrics: false }),
      logger: createLogger({ level: 'silent' }),
    })
    await processor.start()
    const context = { heartbeat: async () => {}, isStale: () => false }

    await expect(handler!(batch, context)).rejects.toThrow('timeout')
    // The consumer retries the same messages.
    await handler!(batch, context)

    expect(written).toHaveLength(1)
    expect(written[0]!.contributions).toHaveLength(1)
  })
})
