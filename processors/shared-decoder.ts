import type { EventCodec } from '../lib/avro/event-codec.ts'
import type { EventEnvelope } from '../lib/event-types.ts'
import type { ConsumedMessage } from '../lib/kafka/event-consumer.ts'

/** Decodes a message once per process, however many consumer groups of the process read it. */
export interface SharedDecoder {
  /** Rejects with UndecodableEventError for a message that can never decode. */
  decode(topic: string, partition: number, message: ConsumedMessage, readers: number): Promise<EventEnvelope>
}

interface Entry {
  size: number
  decoded: Promise<EventEnvelope>
  /** Readers still to come for this message; the entry is dropped when it reaches 0. */
  pending: number
}

/**
 * Each processor has its own consumer group (its own lag, its own retries), so every message is
 * fetched once per group; the groups move through the log at about the same pace, so the first
 * group to reach a message decodes it and the others take the same object. `readers` says how many
 * groups of this process read that message; the entry goes when the last has taken it, or, when a
 * group lags far behind (or another process owns its partitions), when `maxEntries` is reached
 * (oldest first). Decoded envelopes are shared: processors must not mutate them.
 */
export function createSharedDecoder(options: { codec: EventCodec; maxEntries: number }): SharedDecoder {
  const entries = new Map<string, Entry>()
  return {
    decode(topic, partition, message, readers) {
      const value = message.value
      if (readers <= 1 || !value) return options.codec.decode(value ?? Buffer.alloc(0))
      const key = `${topic}\u0000${partition}\u0000${message.offset}`
      const hit = entries.get(key)
      // An offset of a recreated topic holds other bytes: the size tells them apart cheaply.
      if (hit && hit.size === value.length) {
        if (--hit.pending <= 0) entries.delete(key)
        return hit.decoded
      }
      const decoded = options.codec.decode(value)
      // A rejection is shared too (the message is poison for every reader); keep it from being unhandled.
      decoded.catch(() => {})
      entries.set(key, { size: value.length, decoded, pending: readers - 1 })
      if (entries.size > options.maxEntries) {
        const oldest = entries.keys().next().value
        if (oldest !== undefined) entries.delete(oldest)
      }
      return decoded
    },
  }
}
