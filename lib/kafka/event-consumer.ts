import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs'
import type { Logger } from '../logger.ts'

export interface ConsumedMessage {
  offset: string
  key?: Buffer | null
  value: Buffer | null
  /** As the client hands them over (values are Buffers); read one with `headerText`. */
  headers?: Record<string, Buffer | string | Array<Buffer | string> | undefined>
}

/** A header's value as text, undefined when the message does not carry it. */
export function headerText(message: ConsumedMessage, name: string): string | undefined {
  const v = message.headers?.[name]
  if (v === undefined) return undefined
  const one = Array.isArray(v) ? v[0] : v
  return one === undefined ? undefined : typeof one === 'string' ? one : one.toString('utf8')
}

/** Every header of a message as text. */
export function headersText(message: ConsumedMessage): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of Object.keys(message.headers ?? {})) {
    const v = headerText(message, name)
    if (v !== undefined) out[name] = v
  }
  return out
}

export interface ConsumedBatch {
  topic: string
  partition: number
  messages: ConsumedMessage[]
  /** The partition's end offset when the batch was fetched: `highWatermark - lastOffset - 1` is still to come. */
  highWatermark: number
}

export interface FetchContext {
  /** Commits past the last message of every batch (skipping partitions a rebalance took away). */
  commit(): Promise<void>
  /** Keeps the group membership alive during long work. */
  heartbeat(): Promise<void>
}

/**
 * Handles what one fetch brought: the batches of several partitions, each in offset order. Calls
 * `commit()` once everything is stored. Throwing means a dependency failed: nothing more is
 * committed, the partitions pause with backoff and the same messages come again. Per-message
 * problems (poison messages) must not throw.
 */
export type FetchHandler = (batches: readonly ConsumedBatch[], context: FetchContext) => Promise<void>

/** The slice of a Kafka consumer group Sluice needs. */
export interface EventConsumer {
  start(handler: FetchHandler): Promise<void>
  /** Stops fetching and waits for the fetch in flight to finish (and commit). */
  stop(): Promise<void>
  onAssignmentChange(listener: () => void): void
}

export interface EventConsumerOptions {
  groupId: string
  topics: readonly string[]
  /** Bytes one fetch returns at most per partition, and in all (the size of the largest flush). */
  maxBytesPerPartition: number
  maxBytes?: number
  sessionTimeoutMs?: number
  logger: Logger
  /** Backoff after a failed fetch, doubled per consecutive failure up to maxRetryDelayMs. */
  retryDelayMs?: number
  maxRetryDelayMs?: number
}

// More than any topic of Sluice has partitions: every partition of a fetch is handed over at once.
const WORKERS = 256

/**
 * A kafkajs consumer group that hands every fetch over whole: kafkajs calls `eachBatch` once per
 * partition of a fetch response, all in the same turn of the event loop, so the batches are gathered
 * until the next turn and handled together (one store write per fetch, not per partition). Under
 * load a fetch is large (up to `maxBytes`), when traffic is light it holds what just arrived: the
 * flush size adapts by itself.
 */
export function createEventConsumer(kafka: Kafka, options: EventConsumerOptions): EventConsumer {
  const consumer: Consumer = kafka.consumer({
    groupId: options.groupId,
    allowAutoTopicCreation: false,
    maxBytesPerPartition: options.maxBytesPerPartition,
    maxBytes: options.maxBytes ?? Math.max(options.maxBytesPerPartition, 16 * 1024 * 1024),
    sessionTimeout: options.sessionTimeoutMs ?? 30_000,
    heartbeatInterval: Math.min(3_000, Math.floor((options.sessionTimeoutMs ?? 30_000) / 3)),
    maxWaitTimeInMs: 100,
  })
  const assignmentListeners: Array<() => void> = []
  const resumeTimers = new Set<NodeJS.Timeout>()
  const baseDelay = options.retryDelayMs ?? 200
  const maxDelay = options.maxRetryDelayMs ?? 5_000
  let consecutiveFailures = 0
  consumer.on(consumer.events.GROUP_JOIN, () => {
    for (const listener of assignmentListeners) listener()
  })

  interface Pending {
    batch: ConsumedBatch
    payload: EachBatchPayload
    done: { resolve(): void; reject(err: unknown): void }
  }
  let gathering: Pending[] | null = null
  let handler: FetchHandler | null = null

  async function handleGathered(pending: readonly Pending[]): Promise<void> {
    const batches = pending.map((p) => p.batch)
    const context: FetchContext = {
      heartbeat: () => pending[0]!.payload.heartbeat(),
      async commit() {
        const live = pending.filter((p) => !p.payload.isStale())
        for (const p of live) p.payload.resolveOffset(lastOffset(p.batch))
        if (live.length === 0) return
        // TRICKY: commit only after the handler stored everything up to each batch's last message.
        // Resolving matters too: kafkajs fetches from the last resolved offset.
        await consumer.commitOffsets(
          live.map((p) => ({ topic: p.batch.topic, partition: p.batch.partition, offset: (BigInt(lastOffset(p.batch)) + 1n).toString() })),
        )
      },
    }
    try {
      await handler!(batches, context)
      consecutiveFailures = 0
    } catch (error) {
      // TRICKY: nothing more is committed; rewind each partition to its batch's first message and
      // pause it, so the same messages come again after the backoff, in order.
      consecutiveFailures++
      const delay = Math.min(maxDelay, baseDelay * 2 ** (consecutiveFailures - 1))
      options.logger.error(
        { err: error, partitions: batches.map((b) => `${b.topic}:${b.partition}`), attempt: consecutiveFailures, retryInMs: delay },
        'fetch failed; will retry',
      )
      for (const { batch } of pending) {
        const tp = [{ topic: batch.topic, partitions: [batch.partition] }]
        consumer.pause(tp)
        consumer.seek({ topic: batch.topic, partition: batch.partition, offset: batch.messages[0]!.offset })
        const timer = setTimeout(() => {
          resumeTimers.delete(timer)
          consumer.resume(tp)
        }, delay)
        resumeTimers.add(timer)
      }
    }
  }

  return {
    onAssignmentChange(listener) {
      assignmentListeners.push(listener)
    },
    async start(fetchHandler) {
      handler = fetchHandler
      await consumer.connect()
      for (const topic of options.topics) await consumer.subscribe({ topic, fromBeginning: true })
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: WORKERS,
        eachBatch: (payload) => {
          const { batch, isStale, isRunning } = payload
          if (batch.messages.length === 0 || isStale() || !isRunning()) return Promise.resolve()
          const consumed: ConsumedBatch = {
            topic: batch.topic,
            partition: batch.partition,
            highWatermark: Number(batch.highWatermark),
            // kafkajs's message objects as they are: a copy per message per group costs more than it is worth.
            messages: batch.messages,
          }
          return new Promise<void>((resolve, reject) => {
            if (!gathering) {
              const group: Pending[] = (gathering = [])
              setImmediate(() => {
                gathering = null
                handleGathered(group).then(
                  () => group.forEach((p) => p.done.resolve()),
                  (err: unknown) => group.forEach((p) => p.done.reject(err)),
                )
              })
            }
            gathering.push({ batch: consumed, payload, done: { resolve, reject } })
          })
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

function lastOffset(batch: ConsumedBatch): string {
  return batch.messages[batch.messages.length - 1]!.offset
}
