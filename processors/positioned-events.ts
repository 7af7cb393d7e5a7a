import type { EventEnvelope } from '../lib/event-types.ts'

/** Where an event sits in Kafka: its identity for "first occurrence wins". */
export interface KafkaPosition {
  partition: number
  offset: number
}

export interface PositionedEvent extends KafkaPosition {
  event: EventEnvelope
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
