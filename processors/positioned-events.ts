import { UndecodableEventError, type EventCodec } from '../lib/avro/event-codec.ts'
import type { EventEnvelope, EventType } from '../lib/event-types.ts'
import type { ConsumedBatch } from '../lib/kafka/event-consumer.ts'
import { EVENT_TYPE_HEADER } from '../lib/kafka/headers.ts'
import type { DeadLetter } from './dead-letter.ts'

/** Where an event sits in Kafka: its identity for "first occurrence wins". */
export interface KafkaPosition {
  partition: number
  offset: number
}

export interface PositionedEvent extends KafkaPosition {
  event: EventEnvelope
}

/**
 * Decodes a fetched batch. Messages that can never decode become dead letters (values, not
 * throws); anything else thrown (a schema registry outage) fails the batch so it is retried.
 * With `types`, a message whose type header names another type is skipped undecoded (each
 * processor decodes only its own events; a message without the header is always decoded).
 */
export async function decodeBatch(
  codec: EventCodec,
  batch: Pick<ConsumedBatch, 'partition' | 'messages'>,
  types?: ReadonlySet<EventType>,
): Promise<{ events: PositionedEvent[]; letters: DeadLetter[]; skipped: number }> {
  const events: PositionedEvent[] = []
  const letters: DeadLetter[] = []
  let skipped = 0
  for (const message of batch.messages) {
    const declared = message.headers[EVENT_TYPE_HEADER]
    if (types && declared !== undefined && !types.has(declared as EventType)) {
      skipped++
      continue
    }
    try {
      if (!message.value) throw new UndecodableEventError('empty', 'message has no value')
      events.push({ partition: batch.partition, offset: Number(message.offset), event: await codec.decode(message.value) })
    } catch (err) {
      if (!(err instanceof UndecodableEventError)) throw err
      letters.push({ message, reason: err.reason, error: err.message })
    }
  }
  return { events, letters, skipped }
}

/**
 * A stored row from an earlier position means this event is a resend (a duplicate); a row at the
 * same position is this very event, written by an attempt that crashed before it committed.
 */
export function isResend(existing: KafkaPosition | undefined, me: KafkaPosition): boolean {
  if (!existing) return false
  return existing.partition !== me.partition || existing.offset < me.offset
}

/** Whether `a` was processed before `b`. Positions on other partitions count as earlier. */
export function processedBefore(a: KafkaPosition, b: KafkaPosition): boolean {
  return a.partition !== b.partition || a.offset < b.offset
}
