import type { EventCodec } from '../lib/avro/event-codec.ts'
import type { EventEnvelope } from '../lib/event-types.ts'
import type { ConsumedMessage } from '../lib/kafka/event-consumer.ts'

/** Decodes a message once per process, however many consumer groups of the process read it. */
export interface SharedDecoder {
  /**
   * Throws (or rejects with) UndecodableEventError for a message that can never decode. Returns
   * a promise only when the codec must first fetch a writer schema.
   */
  decode(topic: string, partition: number, message: ConsumedMessage, readers: number): EventEnvelope | Promise<EventEnvelope>
}

interface Entry {
  size: number
  decoded: EventEnvelope | Promise<EventEnvelope>
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
  const { codec } = options
  // topic:partition → offset → entry (offsets are the strings the client hands over: no key to build).
  const partitions = new Map<string, Map<string, Entry>>()
  let size = 0

  function decodeOnce(value: Buffer): EventEnvelope | Promise<EventEnvelope> {
    return codec.decodeNow(value) ?? codec.decode(value)
  }

  function evictOldest(): void {
    for (const [key, entries] of partitions) {
      const oldest = entries.keys().next()
      if (oldest.done) {
        partitions.delete(key)
        continue
      }
      entries.delete(oldest.value)
      size--
      return
    }
  }

  return {
    decode(topic, partition, message, readers) {
      const value = message.value
      if (!value) return codec.decode(Buffer.alloc(0))
      if (readers <= 1) return decodeOnce(value)
      const pk = `${topic}:${partition}`
      let entries = partitions.get(pk)
      if (!entries) partitions.set(pk, (entries = new Map()))
      const hit = entries.get(message.offset)
      // An offset of a recreated topic holds other bytes: the size tells them apart cheaply.
      if (hit && hit.size === value.length) {
        if (--hit.pending <= 0) {
          entries.delete(message.offset)
          size--
        }
        return hit.decoded
      }
      // A poison message throws here for this reader; the next reader decodes (and throws) again.
      const decoded = decodeOnce(value)
      if (decoded instanceof Promise) decoded.catch(() => {})
      if (!hit) size++
      entries.set(message.offset, { size: value.length, decoded, pending: readers - 1 })
      if (size > options.maxEntries) evictOldest()
      return decoded
    },
  }
}
