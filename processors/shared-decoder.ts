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

/** topic → partition → offset → entry (offsets are the strings the client hands over: no key to build). */
type Generation = Map<string, Array<Map<string, Entry> | undefined>>

/**
 * Each consumer group of a thread fetches every message once (its own lag, its own retries;
 * processors that share a group share its fetch); the groups move through the log at about the same pace, so the first
 * group to reach a message decodes it and the others take the same object. `readers` says how many
 * groups of this process read that message; the entry goes when the last has taken it.
 *
 * When a group lags far behind (or another process owns its partitions), entries are never taken
 * by every reader: they are kept in two generations of `maxEntries / 2` each, and when the current
 * one is full the older one is dropped whole. Evicting one entry at a time would walk a map's
 * deleted slots on every insert (V8 keeps them until it rehashes), which cost 6 % of a catch-up.
 * Decoded envelopes are shared: processors must not mutate them.
 */
export function createSharedDecoder(options: { codec: EventCodec; maxEntries: number }): SharedDecoder {
  const { codec } = options
  const perGeneration = Math.max(1, Math.floor(options.maxEntries / 2))
  let current: Generation = new Map()
  let previous: Generation = new Map()
  let currentSize = 0

  function decodeOnce(value: Buffer): EventEnvelope | Promise<EventEnvelope> {
    return codec.decodeNow(value) ?? codec.decode(value)
  }

  function entriesOf(generation: Generation, topic: string, partition: number, create: boolean): Map<string, Entry> | undefined {
    let byPartition = generation.get(topic)
    if (!byPartition) {
      if (!create) return undefined
      generation.set(topic, (byPartition = []))
    }
    let entries = byPartition[partition]
    if (!entries && create) byPartition[partition] = entries = new Map()
    return entries
  }

  /** The entry of a message and the map holding it, from either generation. */
  function find(topic: string, partition: number, offset: string): [Entry, Map<string, Entry>] | undefined {
    for (const generation of [current, previous]) {
      const entries = entriesOf(generation, topic, partition, false)
      const hit = entries?.get(offset)
      if (hit) return [hit, entries!]
    }
    return undefined
  }

  return {
    decode(topic, partition, message, readers) {
      const value = message.value
      if (!value) return codec.decode(Buffer.alloc(0))
      if (readers <= 1) return decodeOnce(value)
      const found = find(topic, partition, message.offset)
      // An offset of a recreated topic holds other bytes: the size tells them apart cheaply.
      if (found && found[0].size === value.length) {
        const [hit, entries] = found
        if (--hit.pending <= 0) entries.delete(message.offset)
        return hit.decoded
      }
      if (found) found[1].delete(message.offset)
      // A poison message throws here for this reader; the next reader decodes (and throws) again.
      const decoded = decodeOnce(value)
      if (decoded instanceof Promise) decoded.catch(() => {})
      if (currentSize >= perGeneration) {
        previous = current
        current = new Map()
        currentSize = 0
      }
      entriesOf(current, topic, partition, true)!.set(message.offset, { size: value.length, decoded, pending: readers - 1 })
      currentSize++
      return decoded
    },
  }
}
