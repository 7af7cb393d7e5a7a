/**
 * How one acknowledged send is cut into produce requests the broker accepts. The broker refuses a
 * record batch (one partition's part of a request) larger than the topic's `max.message.bytes`,
 * and it refuses it every time: sending a 2 MB batch of one run in one request would be a 503
 * forever. So each partition's messages are cut, in order, into parts under that limit, and round
 * r carries the r-th part of every partition. Rounds go one after another, which keeps the order
 * within each partition.
 */

export interface PartitionedMessage {
  partition: number
  key: string
  value: Buffer
  headers?: Record<string, string> | undefined
}

// A record batch has a 61-byte header; each record adds its length, attributes, timestamp and
// offset deltas, key and value lengths and a header count (varints, ≤ 5 bytes each), plus two
// lengths per header. Generous numbers: a part a little smaller than needed costs nothing.
export const BATCH_OVERHEAD_BYTES = 1024
const RECORD_OVERHEAD_BYTES = 64
const HEADER_OVERHEAD_BYTES = 10

/** An upper bound of the bytes a message takes in an uncompressed record batch. */
export function recordBytes(m: Pick<PartitionedMessage, 'key' | 'value' | 'headers'>): number {
  let bytes = RECORD_OVERHEAD_BYTES + Buffer.byteLength(m.key) + m.value.length
  for (const [k, v] of Object.entries(m.headers ?? {})) bytes += HEADER_OVERHEAD_BYTES + Buffer.byteLength(k) + Buffer.byteLength(v)
  return bytes
}

/**
 * The rounds of produce requests for `messages`, each partition's part at most `maxBatchBytes`
 * (a message too large for any part goes alone; the broker then refuses it).
 *
 * @example produceRounds(messages, 1_048_588) // → [[...first part of each partition], [...]]
 */
export function produceRounds(messages: readonly PartitionedMessage[], maxBatchBytes: number): PartitionedMessage[][] {
  const budget = Math.max(1, maxBatchBytes - BATCH_OVERHEAD_BYTES)
  const partsByPartition = new Map<number, PartitionedMessage[][]>()
  const openBytes = new Map<number, number>()
  for (const m of messages) {
    const parts = partsByPartition.get(m.partition) ?? []
    if (parts.length === 0) partsByPartition.set(m.partition, parts)
    const size = recordBytes(m)
    const used = openBytes.get(m.partition) ?? 0
    if (parts.length === 0 || (used > 0 && used + size > budget)) {
      parts.push([m])
      openBytes.set(m.partition, size)
    } else {
      parts[parts.length - 1]!.push(m)
      openBytes.set(m.partition, used + size)
    }
  }
  const rounds: PartitionedMessage[][] = []
  for (const parts of partsByPartition.values()) {
    parts.forEach((part, r) => {
      rounds[r] ??= []
      rounds[r].push(...part)
    })
  }
  return rounds
}
