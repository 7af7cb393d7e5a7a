import type { DeadLetterStore } from '../lib/dead-letters/dead-letter-store.ts'
import { createEventConsumer } from '../lib/kafka/event-consumer.ts'
import type { Services } from '../lib/services.ts'
import { createDeadLetterSink } from './dead-letter.ts'
import type { ProcessorDefinition } from './define-processor.ts'
import type { SharedDecoder } from './shared-decoder.ts'
import { startProcessor, type RunningProcessor } from './start-processor.ts'

export interface HereContext {
  services: Services
  decoder: SharedDecoder
  /** How many processors of this thread read a message of this type (for the shared decoder). */
  readersOf(type: string | undefined): number
  deadLetters: DeadLetterStore
  wakeWebhooks(): void
  onCommit?: () => void
}

/** Starts one processor of the registry on this thread's event loop: its consumer group, its instance, its dead letters. */
export function runProcessorHere(definition: ProcessorDefinition, ctx: HereContext): Promise<RunningProcessor> {
  const { services } = ctx
  const { config, metrics, logger } = services
  const group = definition.group(config)
  return startProcessor({
    name: definition.name,
    group,
    eventTypes: definition.eventTypes,
    instance: definition.create({ services, wakeWebhooks: ctx.wakeWebhooks }),
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
    deadLetter: createDeadLetterSink({
      store: ctx.deadLetters,
      producer: services.producer,
      topic: config.kafka.deadLetterTopic,
      processor: definition.name,
      metrics,
      logger,
    }),
    metrics,
    logger,
    stallAfterMs: config.processor.stallAfterMs,
    ...(ctx.onCommit ? { onCommit: ctx.onCommit } : {}),
  })
}
