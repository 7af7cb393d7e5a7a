/**
 * Baseline A of the processor bench: a bare kafkajs consumer group reading a topic from the
 * beginning to its end, touching every message (value length, headers) and committing per batch as
 * lib/kafka/event-consumer.ts does, with nothing else to do. Its rate is Kafka's and kafkajs's floor.
 */
import type { Kafka } from 'kafkajs'

export interface RetainedMessage {
  partition: number
  offset: number
  value: Buffer
}

export interface BareConsumeResult {
  seconds: number
  /** From the start until the first batch arrived (connect, join, first fetch). */
  firstBatchSeconds: number
  messages: number
  valueBytes: number
  headerBytes: number
  /** Every message, when `retain` was set (baseline B builds its rows from them, untimed). */
  retained: RetainedMessage[]
}

export async function bareConsume(
  kafka: Kafka,
  o: {
    topic: string
    groupId: string
    /** Messages on the topic: the read ends when this many were seen. */
    expected: number
    maxBytesPerPartition: number
    partitionsConsumedConcurrently: number
    timeoutMs: number
    retain: boolean
  },
): Promise<BareConsumeResult> {
  const consumer = kafka.consumer({ groupId: o.groupId, allowAutoTopicCreation: false, maxBytesPerPartition: o.maxBytesPerPartition, maxWaitTimeInMs: 100 })
  const result: BareConsumeResult = { seconds: 0, firstBatchSeconds: 0, messages: 0, valueBytes: 0, headerBytes: 0, retained: [] }
  const t0 = performance.now()
  let done!: () => void
  const finished = new Promise<void>((resolve) => (done = resolve))
  try {
    await consumer.connect()
    await consumer.subscribe({ topic: o.topic, fromBeginning: true })
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: o.partitionsConsumedConcurrently,
      eachBatch: async ({ batch, resolveOffset, isStale }) => {
        if (batch.messages.length === 0 || isStale()) return
        if (result.messages === 0) result.firstBatchSeconds = (performance.now() - t0) / 1000
        for (const m of batch.messages) {
          result.valueBytes += m.value?.length ?? 0
          for (const [k, v] of Object.entries(m.headers ?? {})) result.headerBytes += k.length + (Buffer.isBuffer(v) ? v.length : String(v).length)
          if (o.retain && m.value) result.retained.push({ partition: batch.partition, offset: Number(m.offset), value: m.value })
        }
        const last = batch.messages[batch.messages.length - 1]!.offset
        resolveOffset(last)
        await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }])
        result.messages += batch.messages.length
        if (result.messages >= o.expected) done()
      },
    })
    let timer: NodeJS.Timeout | undefined
    const timedOut = await Promise.race([
      finished.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), o.timeoutMs))),
    ])
    clearTimeout(timer)
    result.seconds = (performance.now() - t0) / 1000
    if (timedOut) throw new Error(`bare consumer read ${result.messages} of ${o.expected} messages in ${o.timeoutMs / 1000} s`)
    return result
  } finally {
    await consumer.disconnect().catch(() => {})
  }
}
