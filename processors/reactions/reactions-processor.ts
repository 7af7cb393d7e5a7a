import type { EventCodec } from '../../lib/avro/event-codec.ts'
import type { ConsumedBatch, EventConsumer } from '../../lib/kafka/event-consumer.ts'
import type { Logger } from '../../lib/logger.ts'
import type { Metrics } from '../../lib/metrics.ts'
import { eventView } from '../../lib/reactions/event-view.ts'
import type { Redis } from '../../lib/redis.ts'
import type { DeadLetterSink } from '../dead-letter.ts'
import { decodeBatch } from '../positioned-events.ts'
import type { RuleMatch, WriteOutcome } from './complaint-writer.ts'
import { fingerprintOf, type RuleSet } from './rule-set.ts'

const PROCESSOR = 'reactions'
const RUN_START_TTL_SECONDS = 2 * 86_400

/**
 * Evaluates every enabled reaction rule of an event's project on each event, in its own consumer
 * group, and hands the matches to the complaint writer before the batch is committed.
 */
export function createReactionsProcessor(deps: {
  consumer: EventConsumer
  codec: EventCodec
  rules: { refresh(): Promise<RuleSet> }
  writeMatches: (matches: readonly RuleMatch[]) => Promise<WriteOutcome>
  redis: Redis
  deadLetter: DeadLetterSink
  metrics: Metrics
  logger: Logger
  onComplaintOpened?: () => void
}) {
  const { consumer, codec, redis, deadLetter, metrics } = deps
  const logger = deps.logger.child({ processor: PROCESSOR })
  const runStartKey = (projectId: string, runId: string) => `sluice:run-start:${projectId}:${runId}`

  async function handleBatch(batch: ConsumedBatch): Promise<void> {
    const end = metrics.processorBatchDuration.startTimer({ processor: PROCESSOR })
    const ruleSet = await deps.rules.refresh()
    const { events, letters } = await decodeBatch(codec, batch)
    await deadLetter(batch, letters)

    // Run starts are remembered (Redis, short-lived) so a run_complete rule can use duration_ms.
    const starts = events.filter((e) => e.event.type === 'run_start')
    if (starts.length > 0) {
      const pipeline = redis.pipeline()
      for (const { event: e } of starts) {
        if (e.type === 'run_start') pipeline.set(runStartKey(e.project_id, e.payload.run_id), String(e.payload.started_at ?? e.timestamp), 'EX', RUN_START_TTL_SECONDS)
      }
      await pipeline.exec()
    }
    const startedAt = new Map<string, number>()
    const completions = events.filter((e) => e.event.type === 'run_complete' && ruleSet.rulesFor(e.event.project_id, 'run_complete').length > 0)
    if (completions.length > 0) {
      const keys = completions.map(({ event: e }) => (e.type === 'run_complete' ? runStartKey(e.project_id, e.payload.run_id) : ''))
      const values = await redis.mget(...keys)
      keys.forEach((k, i) => values[i] && startedAt.set(k, Number(values[i])))
    }

    const matches: RuleMatch[] = []
    let evaluated = 0
    for (const { event } of events) {
      const rules = ruleSet.rulesFor(event.project_id, event.type)
      if (rules.length === 0) continue
      const runStart = event.type === 'run_complete' ? (startedAt.get(runStartKey(event.project_id, event.payload.run_id)) ?? null) : null
      const view = eventView(event, runStart)
      if (!view) continue
      for (const { reaction, test } of rules) {
        evaluated++
        if (!test(view)) continue
        const { fingerprint, group } = fingerprintOf(reaction, view)
        matches.push({
          reaction,
          eventId: event.id,
          fingerprint,
          group,
          receivedAt: event.received_at,
          sampleEvent: { id: event.id, type: event.type, timestamp: new Date(event.timestamp).toISOString(), data: view },
        })
      }
    }
    metrics.rulesEvaluated.inc(evaluated)
    const outcome = matches.length > 0 ? await deps.writeMatches(matches) : { counted: 0, duplicates: 0, opened: [] }
    if (outcome.opened.length > 0) {
      logger.info({ complaints: outcome.opened.map((o) => o.complaintId), topic: batch.topic, partition: batch.partition }, 'complaints opened')
      deps.onComplaintOpened?.()
    }
    metrics.processorMessages.inc({ processor: PROCESSOR, outcome: 'stored' }, events.length)
    logger.debug({ topic: batch.topic, partition: batch.partition, events: events.length, evaluated, matches: matches.length, ...outcome, seconds: end() }, 'rules evaluated')
  }

  return {
    start: () => consumer.start(handleBatch),
    stop: () => consumer.stop(),
  }
}
