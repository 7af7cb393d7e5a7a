import type { DeadLetterStore } from '../lib/dead-letters/dead-letter-store.ts'
import type { EventEnvelope } from '../lib/event-types.ts'
import type { EventProducer } from '../lib/kafka/event-producer.ts'
import { headersText, headerText, type ConsumedMessage } from '../lib/kafka/event-consumer.ts'
import { EVENT_TYPE_HEADER, REQUEST_ID_HEADER } from '../lib/kafka/headers.ts'
import type { Metrics } from '../lib/metrics.ts'
import type { Logger } from '../lib/logger.ts'

export interface DeadLetter {
  message: ConsumedMessage
  reason: string
  error: string
  /** The decoded event, when it decoded (a processor failed on it). */
  event?: EventEnvelope
}

/**
 * Parks messages a processor cannot use, with why, so the partition moves on: in Postgres (to list
 * and replay them) and on the dead-letter topic. Resolves only once both have them: a message is
 * never dropped silently.
 */
export function createDeadLetterSink(options: {
  store: DeadLetterStore
  producer: EventProducer
  topic: string
  processor: string
  metrics: Metrics
  logger: Logger
}) {
  return async function sendToDeadLetter(source: { topic: string; partition: number }, letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return
    const ids = await options.store.add(
      letters.map(({ message, reason, error, event }) => ({
        topic: source.topic,
        partition: source.partition,
        offset: Number(message.offset),
        processor: options.processor,
        reason,
        error: error.slice(0, 1000),
        projectId: event?.project_id ?? null,
        eventId: event?.id ?? null,
        eventType: event?.type ?? headerText(message, EVENT_TYPE_HEADER) ?? null,
        key: message.key ?? null,
        value: message.value ?? Buffer.alloc(0),
        headers: headersText(message),
      })),
    )
    await options.producer.send(
      options.topic,
      letters.map(({ message, reason, error }, i) => ({
        key: message.key?.toString('utf8') ?? `${source.topic}:${source.partition}:${message.offset}`,
        value: message.value ?? Buffer.alloc(0),
        headers: {
          ...headersText(message),
          'x-sluice-dlq-reason': reason,
          'x-sluice-dlq-error': error.slice(0, 1000),
          'x-sluice-dlq-processor': options.processor,
          'x-sluice-source-topic': source.topic,
          'x-sluice-source-partition': String(source.partition),
          'x-sluice-source-offset': message.offset,
          'x-sluice-dlq-id': ids[i]!,
        },
      })),
    )
    for (const { message, reason } of letters) {
      options.metrics.deadLetters.inc({ processor: options.processor, reason })
      options.logger.warn(
        { reason, topic: source.topic, partition: source.partition, offset: message.offset, requestId: headerText(message, REQUEST_ID_HEADER) },
        'message sent to dead-letter topic',
      )
    }
  }
}

export type DeadLetterSink = ReturnType<typeof createDeadLetterSink>
