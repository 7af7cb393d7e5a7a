import type { Consumer, Kafka } from 'kafkajs'
import type { Logger } from '../logger.ts'

export interface ConsumedMessage {
  offset: string
  key: Buffer | null
  value: Buffer | null
  headers: Record<string, string>
}

export interface ConsumedBatch {
  topic: string
  partition: number
  messages: ConsumedMessage[]
}

export interface BatchContext {
  heartbeat(): Promise<void>
  /** True once a rebalance took the partition away: stop work, commit nothing. */
  isStale(): boolean
}

/**
 * Resolves when the batch is stored; the consumer then commits past its last message. Throwing means
 * a dependency failed: nothing is committed, the partition pauses with backoff and the same
 * messages come again. Per-message problems (poison messages) must not throw.
 */
export type BatchHandler = (batch: ConsumedBatch, context: BatchContext) => Promise<void>

/** The slice of a Kafka consumer group Sluice needs. */
export interface EventConsumer {
  start(handler: BatchHandler): Promise<void>
  /** Stops fetching and waits for the batch in flight to finish (and commit). */
  stop(): Promise<void>
  onAssignmentChange(listener: () => void): void
}

export interface EventConsumerOptions {
  groupId: string
  topics: readonly string[]
  maxBytesPerPartition: number
  sessionTimeoutMs?: number
  /**
   * Partitions worked on at once (default 1). Safe for Sluice's processors: each one's state is
   * per partition (markers) or guarded in the store (advisory locks per fingerprint).
   */
  partitionsConsumedConcurrently?: number
  logger: Logger
  /** Backoff after a failed batch, doubled per consecutive failure up to maxRetryDelayMs. */
  retryDelayMs?: number
  maxRetryDelayMs?: number
  onBatchFailed?: (error: unknown) => void
}

export function createEventConsumer(kafka: Kafka, options: EventConsumerOptions): EventConsumer {
  const consumer: Consumer = kafka.consumer({
    groupId: options.groupId,
    allowAutoTopicCreation: false,
    maxBytesPerPartition: options.maxBytesPerPartition,
    sessionTimeout: options.sessionTimeoutMs ?? 30_000,
    heartbeatInterval: Math.min(3_000, Math.floor((options.sessionTimeoutMs ?? 30_000) / 3)),
    maxWaitTimeInMs: 100,
  })
  const assignmentListeners: Array<() => void> = []
  const failures = new Map<string, number>()
  const resumeTimers = new Set<NodeJS.Timeout>()
  const baseDelay = options.retryDelayMs ?? 200
  const maxDelay = options.maxRetryDelayMs ?? 5_000
  consumer.on(consumer.events.GROUP_JOIN, () => {
    for (const listener of assignmentListeners) listener()
  })

  return {
    onAssignmentChange(listener) {
      assignmentListeners.push(listener)
    },
    async start(handler) {
      await consumer.connect()
      for (const topic of options.topics) await consumer.subscribe({ topic, fromBeginning: true })
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
        eachBatch: async ({ batch, heartbeat, isStale, isRunning, resolveOffset }) => {
          if (batch.messages.length === 0 || isStale() || !isRunning()) return
          const key = `${batch.topic}:${batch.partition}`
          const messages: ConsumedMessage[] = batch.messages.map((m) => ({
            offset: m.offset,
            key: m.key ?? null,
            value: m.value ?? null,
            headers: stringHeaders(m.headers),
          }))
          const first = messages[0]!.offset
          const last = messages[messages.length - 1]!.offset
          try {
            await handler({ topic: batch.topic, partition: batch.partition, messages }, { heartbeat, isStale })
          } catch (error) {
            // TRICKY: nothing is committed; rewind to the first message of the batch and pause the
            // partition so the same messages come again after the backoff, in order.
            const n = (failures.get(key) ?? 0) + 1
            failures.set(key, n)
            const delay = Math.min(maxDelay, baseDelay * 2 ** (n - 1))
            options.onBatchFailed?.(error)
            options.logger.error({ err: error, topic: batch.topic, partition: batch.partition, attempt: n, retryInMs: delay }, 'batch failed; will retry')
            consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }])
            consumer.seek({ topic: batch.topic, partition: batch.partition, offset: first })
            const timer = setTimeout(() => {
              resumeTimers.delete(timer)
              consumer.resume([{ topic: batch.topic, partitions: [batch.partition] }])
            }, delay)
            resumeTimers.add(timer)
            return
          }
          failures.delete(key)
          if (isStale()) return
          // TRICKY: commit only after the handler stored everything up to `last`. Resolve it too:
          // kafkajs fetches from the last resolved offset, so without this every fetch starts
          // again where the assignment began and redelivers the whole partition, forever.
          resolveOffset(last)
          await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }])
        },
      })
    },
    async stop() {
      for (const t of resumeTimers) clearTimeout(t)
      resumeTimers.clear()
      await consumer.disconnect()
    },
  }
}

function stringHeaders(headers: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  if (!headers) return out
  for (const [k, v] of Object.entries(headers)) {
    if (Buffer.isBuffer(v)) out[k] = v.toString('utf8')
    else if (typeof v === 'string') out[k] = v
  }
  return out
}
