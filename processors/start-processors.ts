import { applyLogRetention } from '../lib/log-retention.ts'
import { createEventConsumer, type EventConsumer } from '../lib/kafka/event-consumer.ts'
import { createReactionStore } from '../lib/reactions/reaction-store.ts'
import type { Services } from '../lib/services.ts'
import { createDeadLetterSink } from './dead-letter.ts'
import { createLogsProcessor } from './logs/logs-processor.ts'
import { createComplaintWriter, pruneMatches } from './reactions/complaint-writer.ts'
import { createReactionsProcessor } from './reactions/reactions-processor.ts'
import { createRuleCache } from './reactions/rule-set.ts'
import { createFunnelStore } from './runs-funnel/funnel-store.ts'
import { createWebhookDispatcher } from './webhook-dispatcher/webhook-dispatcher.ts'
import { createRunsFunnelProcessor } from './runs-funnel/runs-funnel-processor.ts'

export interface RunningProcessors {
  /** Stops intake and waits for in-flight batches to be stored and committed. */
  stop(): Promise<void>
}

const PRUNE_INTERVAL_MS = 10 * 60_000

/**
 * Starts every stream processor of the processor role, each in its own consumer group on the
 * events topic, so each one's lag and failures are its own:
 *   runs-funnel → ClickHouse runs, steps, funnel rollup
 *   logs        → ClickHouse logs
 *   reactions   → Postgres matches, complaints and the webhook outbox
 * and the webhook dispatcher, which delivers that outbox.
 */
export async function startProcessors(services: Services): Promise<RunningProcessors> {
  const { config, metrics, logger } = services
  await applyLogRetention(services.clickhouse, services.tables, config.logs.retentionDays)

  const consumerFor = (processor: string, groupId: string): EventConsumer =>
    createEventConsumer(services.kafka, {
      groupId,
      topics: [config.kafka.eventsTopic],
      maxBytesPerPartition: config.processor.maxBatchBytes,
      sessionTimeoutMs: config.processor.sessionTimeoutMs,
      partitionsConsumedConcurrently: config.processor.concurrency,
      logger: logger.child({ consumer: groupId }),
      onBatchFailed: () => metrics.processorErrors.inc({ processor }),
    })
  const deadLetterFor = (processor: string) =>
    createDeadLetterSink({ producer: services.producer, topic: config.kafka.deadLetterTopic, processor, metrics, logger })

  const webhooks = createWebhookDispatcher({
    pg: services.pg,
    config: config.webhooks,
    metrics,
    logger,
  })

  const processors = [
    createRunsFunnelProcessor({
      consumer: consumerFor('runs-funnel', config.processor.runsFunnelGroup),
      codec: services.codec,
      store: createFunnelStore({ client: services.clickhouse, tables: services.tables, metrics }),
      deadLetter: deadLetterFor('runs-funnel'),
      group: config.processor.runsFunnelGroup,
      metrics,
      logger,
    }),
    createLogsProcessor({
      consumer: consumerFor('logs', config.processor.logsGroup),
      codec: services.codec,
      clickhouse: services.clickhouse,
      tables: services.tables,
      deadLetter: deadLetterFor('logs'),
      metrics,
      logger,
    }),
    createReactionsProcessor({
      consumer: consumerFor('reactions', config.processor.reactionsGroup),
      codec: services.codec,
      rules: createRuleCache({ store: createReactionStore(services.pg), logger }),
      writeMatches: createComplaintWriter({ pg: services.pg, metrics }),
      redis: services.redis,
      deadLetter: deadLetterFor('reactions'),
      metrics,
      logger,
      onComplaintOpened: () => webhooks.wake(),
    }),
  ]
  for (const p of processors) await p.start()
  webhooks.start()

  const prune = setInterval(() => {
    pruneMatches(services.pg).catch((err: unknown) => logger.warn({ err }, 'pruning reaction matches failed'))
  }, PRUNE_INTERVAL_MS)
  prune.unref()

  return {
    async stop() {
      clearInterval(prune)
      await Promise.all(processors.map((p) => p.stop()))
      // After the consumers: a complaint opened by their last batch still gets its first attempt.
      await webhooks.stop()
    },
  }
}
