import type { EventCodec } from '../../lib/avro/event-codec.ts'
import type { EventType } from '../../lib/event-types.ts'
import type { EventConsumer, ConsumedBatch } from '../../lib/kafka/event-consumer.ts'
import type { Logger } from '../../lib/logger.ts'
import type { Metrics } from '../../lib/metrics.ts'
import type { DeadLetterSink } from '../dead-letter.ts'
import { decodeBatch } from '../positioned-events.ts'
import { planBatch } from './batch-plan.ts'
import type { FunnelStore } from './funnel-store.ts'

const PROCESSOR = 'runs-funnel'
const RUN_EVENT_TYPES: ReadonlySet<EventType> = new Set(['run_start', 'step_complete', 'run_complete'])

/**
 * Consumes run events and keeps runs, steps and per-pipeline funnels in ClickHouse.
 *
 * Per fetched batch of one partition: skip what the last stored marker covers, decode (poison
 * messages go to the dead-letter topic), plan first occurrences and funnel contributions against
 * what ClickHouse already holds, write, and only then let the consumer commit.
 */
export function createRunsFunnelProcessor(deps: {
  consumer: EventConsumer
  codec: EventCodec
  store: FunnelStore
  deadLetter: DeadLetterSink
  group: string
  metrics: Metrics
  logger: Logger
}) {
  const { consumer, codec, store, deadLetter, group, metrics } = deps
  const logger = deps.logger.child({ processor: PROCESSOR })
  // Highest offset known stored per topic:partition; refreshed from ClickHouse after a rebalance,
  // since another instance may have moved it.
  const markers = new Map<string, number | null>()
  consumer.onAssignmentChange(() => markers.clear())

  async function markerFor(topic: string, partition: number): Promise<number | null> {
    const k = `${topic}:${partition}`
    if (!markers.has(k)) markers.set(k, await store.readMarker({ group, topic, partition }))
    return markers.get(k) ?? null
  }

  async function handleBatch(batch: ConsumedBatch): Promise<void> {
    const end = metrics.processorBatchDuration.startTimer({ processor: PROCESSOR })
    const { topic, partition } = batch
    const marker = await markerFor(topic, partition)
    const fresh = marker === null ? batch.messages : batch.messages.filter((m) => Number(m.offset) > marker)
    const skipped = batch.messages.length - fresh.length
    if (skipped > 0) metrics.processorMessages.inc({ processor: PROCESSOR, outcome: 'skipped' }, skipped)
    if (fresh.length === 0) {
      end()
      return
    }

    const { events, letters, skipped: notRunEvents } = await decodeBatch(codec, { partition, messages: fresh }, RUN_EVENT_TYPES)
    metrics.processorMessages.inc({ processor: PROCESSOR, outcome: 'ignored' }, notRunEvents)
    await deadLetter({ topic, partition }, letters)

    const projectIds = [...new Set(events.map((e) => e.event.project_id))]
    const runIds = [...new Set(events.flatMap((e) => ('run_id' in e.event.payload && e.event.payload.run_id ? [e.event.payload.run_id] : [])))]
    const plan = planBatch(events, await store.loadKnownState(projectIds, runIds))
    const lastOffset = Number(fresh[fresh.length - 1]!.offset)
    // TRICKY: forget the cached marker while writing. A write can fail after its marker landed (a
    // timeout on an insert the server completed); the retry must then read the marker back and
    // skip the batch, not plan it again against rows that already count.
    markers.delete(`${topic}:${partition}`)
    await store.write(plan, { group, topic, partition, offset: lastOffset })
    if (plan.contributions.length > 0) markers.set(`${topic}:${partition}`, lastOffset)

    const stored = plan.runStarts.length + plan.steps.length + plan.completions.length
    metrics.processorMessages.inc({ processor: PROCESSOR, outcome: 'stored' }, stored)
    metrics.processorMessages.inc({ processor: PROCESSOR, outcome: 'duplicate' }, plan.duplicates)
    metrics.processorMessages.inc({ processor: PROCESSOR, outcome: 'ignored' }, plan.ignored)
    const seconds = end()
    logger.info(
      {
        topic,
        partition,
        firstOffset: fresh[0]!.offset,
        lastOffset,
        stored,
        duplicates: plan.duplicates,
        deadLetters: letters.length,
        contributions: plan.contributions.length,
        requestIds: [...new Set(events.map((e) => e.event.request_id).filter(Boolean))].slice(0, 20),
        seconds,
      },
      'batch stored',
    )
  }

  return {
    start: () => consumer.start(handleBatch),
    stop: () => consumer.stop(),
  }
}
