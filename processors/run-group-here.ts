import type { DeadLetterStore } from '../lib/dead-letters/dead-letter-store.ts'
import { createEventConsumer } from '../lib/kafka/event-consumer.ts'
import type { Services } from '../lib/services.ts'
import { createDeadLetterSink } from './dead-letter.ts'
import type { ConsumerGroup } from './registry.ts'
import type { SharedDecoder } from './shared-decoder.ts'
import { startConsumerGroup, type RunningGroup } from './start-consumer-group.ts'

export interface HereContext {
  services: Services
  decoder: SharedDecoder
  /** How many consumer groups of this thread read a message of this type (for the shared decoder). */
  readersOf(type: string | undefined): number
  deadLetters: DeadLetterStore
  wakeWebhooks(): void
  onCommit?: () => void
}

/** Starts one consumer group of the registry on this thread's event loop: its consumer, its processors' instances and dead letters. */
export function runGroupHere({ group, processors }: ConsumerGroup, ctx: HereContext): Promise<RunningGroup> {
  const { services } = ctx
  const { config, metrics, logger } = services
  return startConsumerGroup({
    group,
    members: processors.map((definition) => ({
      name: definition.name,
      eventTypes: definition.eventTypes,
      instance: definition.create({ services, wakeWebhooks: ctx.wakeWebhooks }),
      deadLetter: createDeadLetterSink({
        store: ctx.deadLetters,
        producer: services.producer,
        topic: config.kafka.deadLetterTopic,
        processor: definition.name,
        metrics,
        logger,
      }),
    })),
    consumer: createEventConsumer(services.kafka, {
      groupId: group,
      topics: [config.kafka.eventsTopic],
      maxBytesPerPartition: config.processor.maxBatchBytes,
      maxBytes: config.processor.maxFetchBytes,
      sessionTimeoutMs: config.processor.sessionTimeoutMs,
      logger: logger.child({ consumer: group }),
    }),
    decoder: ctx.decoder,
    readersOf: ctx.readersOf,
    metrics,
    logger,
    stallAfterMs: config.processor.stallAfterMs,
    ...(ctx.onCommit ? { onCommit: ctx.onCommit } : {}),
  })
}
