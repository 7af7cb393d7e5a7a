import { UndecodableEventError } from '../lib/avro/event-codec.ts'
import { EVENT_TYPES, type EventEnvelope, type EventType } from '../lib/event-types.ts'
import type { ConsumedBatch, ConsumedMessage, EventConsumer, FetchContext } from '../lib/kafka/event-consumer.ts'
import { EVENT_TYPE_HEADER } from '../lib/kafka/headers.ts'
import type { Logger } from '../lib/logger.ts'
import type { Metrics } from '../lib/metrics.ts'
import type { DeadLetter, DeadLetterSink } from './dead-letter.ts'
import type { Flush, FlushOutcome, ProcessorInstance } from './define-processor.ts'
import { isInfrastructureFailure } from './failure-kind.ts'
import { isolatePoison } from './isolate-poison.ts'
import type { PositionedEvent } from './positioned-events.ts'
import type { SharedDecoder } from './shared-decoder.ts'

export interface ProcessorLiveness {
  processor: string
  group: string
  /** `stalled`: messages wait and nothing was committed for `stallAfterMs`. */
  state: 'ok' | 'stalled'
  /** Messages known to wait on this member's partitions (from the last fetch of each). */
  lag: number
  last_commit_at: string | null
}

export interface RunningProcessor {
  stop(): Promise<void>
  liveness(): ProcessorLiveness
}

export interface StartProcessorOptions {
  name: string
  group: string
  eventTypes: readonly EventType[]
  instance: ProcessorInstance
  consumer: EventConsumer
  decoder: SharedDecoder
  /** How many consumer groups of this process read a message of this type (for the shared decoder). */
  readersOf(type: string | undefined): number
  deadLetter: DeadLetterSink
  metrics: Metrics
  logger: Logger
  stallAfterMs: number
  /** Called after each commit (a worker thread reports its liveness then). */
  onCommit?: () => void
}

/**
 * The one skeleton every processor runs on. Per fetch: skip other types by header, decode (once per
 * process), dead-letter what never decodes, `handle` the rest in one flush; if that fails while the
 * stores answer, find the bad events alone and dead-letter them; then commit, and only then count,
 * time and log the batch.
 */
export async function startProcessor(o: StartProcessorOptions): Promise<RunningProcessor> {
  const { name: processor, instance, metrics } = o
  const logger = o.logger.child({ processor })
  const types: ReadonlySet<string> = new Set(o.eventTypes)
  const lagByPartition = new Map<string, number>()
  let lastCommitAt: number | null = null
  const startedAt = Date.now()
  o.consumer.onAssignmentChange(() => {
    lagByPartition.clear()
    instance.onAssignmentChange?.()
  })

  const storesAnswer = () =>
    instance.probe().then(
      () => true,
      () => false,
    )

  async function onFetch(batches: readonly ConsumedBatch[], ctx: FetchContext): Promise<void> {
    const end = metrics.processorBatchDuration.startTimer({ processor })
    for (const b of batches) lagByPartition.set(`${b.topic}:${b.partition}`, b.highWatermark - Number(b.messages[0]!.offset))
    try {
      const { flush, letters, otherTypes, messageOf } = await decodeFetch(batches)
      for (const [source, list] of letters) await o.deadLetter(source, list)

      let outcome: FlushOutcome
      let poisoned = 0
      try {
        outcome = flush.events.length > 0 ? await instance.handle(flush) : { stored: 0, duplicate: 0 }
      } catch (err) {
        if (isInfrastructureFailure(err) || !(await storesAnswer())) throw err
        logger.warn({ err, events: flush.events.length }, 'flush failed while the stores answer; looking for the events that fail alone')
        const isolated = await isolatePoison(flush, instance.handle, storesAnswer, ctx.heartbeat)
        outcome = isolated.outcome
        poisoned = isolated.poison.length
        const bySource = new Map<string, { source: { topic: string; partition: number }; list: DeadLetter[] }>()
        for (const { event, error } of isolated.poison) {
          const batch = batches.find((b) => b.partition === event.partition)!
          const k = `${batch.topic}:${batch.partition}`
          let g = bySource.get(k)
          if (!g) bySource.set(k, (g = { source: { topic: batch.topic, partition: batch.partition }, list: [] }))
          g.list.push({ message: messageOf(event), reason: 'processing_failed', error: errorText(error), event: event.event })
        }
        for (const { source, list } of bySource.values()) await o.deadLetter(source, list)
      }

      await ctx.commit()
      lastCommitAt = Date.now()
      for (const b of batches) lagByPartition.set(`${b.topic}:${b.partition}`, Math.max(b.highWatermark - Number(b.messages[b.messages.length - 1]!.offset) - 1, 0))
      o.onCommit?.()
      const seconds = end({ result: 'ok' })

      const deadLetters = [...letters.values()].reduce((n, l) => n + l.length, 0) + poisoned
      count('stored', outcome.stored)
      count('duplicate', outcome.duplicate)
      count('ignored', otherTypes + (outcome.ignored ?? 0))
      count('skipped', outcome.skipped ?? 0)
      count('dead_letter', deadLetters)
      logger.info(
        {
          partitions: batches.map((b) => ({ partition: b.partition, first: b.messages[0]!.offset, last: b.messages[b.messages.length - 1]!.offset })),
          messages: batches.reduce((n, b) => n + b.messages.length, 0),
          stored: outcome.stored,
          duplicates: outcome.duplicate,
          skipped: outcome.skipped ?? 0,
          deadLetters,
          ...outcome.details,
          requestIds: requestIds(flush.events),
          seconds,
        },
        'batch stored',
      )
    } catch (err) {
      end({ result: 'error' })
      metrics.processorErrors.inc({ processor })
      throw err
    }
  }

  function count(outcome: string, n: number): void {
    if (n > 0) metrics.processorMessages.inc({ processor, outcome }, n)
  }

  async function decodeFetch(batches: readonly ConsumedBatch[]) {
    const events: PositionedEvent[] = []
    const letters = new Map<{ topic: string; partition: number }, DeadLetter[]>()
    let otherTypes = 0
    for (const batch of batches) {
      const list: DeadLetter[] = []
      const pending: Array<Promise<void>> = []
      const take = (message: ConsumedMessage, event: EventEnvelope) => {
        if (!types.has(event.type)) {
          otherTypes++
          return
        }
        events.push({ partition: batch.partition, offset: Number(message.offset), event })
      }
      const poison = (message: ConsumedMessage, err: unknown) => {
        if (!(err instanceof UndecodableEventError)) throw err
        list.push({ message, reason: err.reason, error: err.message })
      }
      for (const message of batch.messages) {
        const declared = declaredType(message)
        // A message without the header (an older producer) is always decoded.
        if (declared !== undefined && !types.has(declared)) {
          otherTypes++
          continue
        }
        let decoded: EventEnvelope | Promise<EventEnvelope>
        try {
          decoded = o.decoder.decode(batch.topic, batch.partition, message, o.readersOf(declared))
        } catch (err) {
          poison(message, err)
          continue
        }
        if (decoded instanceof Promise) {
          pending.push(decoded.then((e) => take(message, e), (err: unknown) => poison(message, err)))
        } else {
          take(message, decoded)
        }
      }
      // TRICKY: a decode that had to wait for the schema registry finishes out of order; keep each
      // partition's events in offset order.
      if (pending.length > 0) {
        await Promise.all(pending)
        events.sort((x, y) => x.partition - y.partition || x.offset - y.offset)
      }
      if (list.length > 0) letters.set({ topic: batch.topic, partition: batch.partition }, list)
    }
    const flush: Flush = {
      events,
      partitions: batches.map((b) => ({ topic: b.topic, partition: b.partition, lastOffset: Number(b.messages[b.messages.length - 1]!.offset) })),
    }
    // Only dead letters need an event's message back: looked up then, not kept for every event.
    const messageOf = (e: PositionedEvent): ConsumedMessage => {
      const batch = batches.find((b) => b.partition === e.partition)!
      return batch.messages.find((m) => Number(m.offset) === e.offset)!
    }
    return { flush, letters, otherTypes, messageOf }
  }

  await o.consumer.start(onFetch)
  return {
    stop: () => o.consumer.stop(),
    liveness() {
      const lag = [...lagByPartition.values()].reduce((a, b) => a + b, 0)
      const since = lastCommitAt ?? startedAt
      return {
        processor,
        group: o.group,
        state: lag > 0 && Date.now() - since > o.stallAfterMs ? 'stalled' : 'ok',
        lag,
        last_commit_at: lastCommitAt === null ? null : new Date(lastCommitAt).toISOString(),
      }
    },
  }
}

function errorText(err: unknown): string {
  return (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(0, 1000)
}

function requestIds(events: readonly PositionedEvent[]): string[] {
  const ids = new Set<string>()
  for (const e of events) {
    if (e.event.request_id) ids.add(e.event.request_id)
    if (ids.size >= 20) break
  }
  return [...ids]
}

const TYPE_BYTES = EVENT_TYPES.map((t) => [Buffer.from(t), t] as const)

/** The type header, compared as bytes (no string per message); an unknown value as text. */
function declaredType(message: ConsumedMessage): string | undefined {
  const v = message.headers?.[EVENT_TYPE_HEADER]
  if (v === undefined) return undefined
  if (typeof v === 'string') return v
  if (Array.isArray(v)) return v[0] === undefined ? undefined : String(v[0])
  for (const [bytes, type] of TYPE_BYTES) if (v.equals(bytes)) return type
  return v.toString('utf8')
}
