import type { EventProducer } from '../lib/kafka/event-producer.ts'
import { headersText, headerText, type ConsumedMessage } from '../lib/kafka/event-consumer.ts'
import { REQUEST_ID_HEADER } from '../lib/kafka/headers.ts'
import type { Metrics } from '../lib/metrics.ts'
import type { Logger } from '../lib/logger.ts'

export interface DeadLetter {
  message: ConsumedMessage
  reason: string
  error: string
}

/**
 * Parks messages a processor cannot use on the dead-letter topic, with why, so the partition moves
 * on. Resolves only once the broker has them: a message is never dropped silently.
 */
export function createDeadLetterSink(options: {
  producer: EventProducer
  topic: string
  processor: string
  metrics: Metrics
  logger: Logger
}) {
  return async function sendToDeadLetter(source: { topic: string; partition: number }, letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return
    await options.producer.send(
      options.topic,
      letters.map(({ message, reason, error }) => ({
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
