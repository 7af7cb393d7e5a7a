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

/** One consumer group running: its processors' liveness (they share the group's lag and commits). */
export interface RunningGroup {
  stop(): Promise<void>
  liveness(): ProcessorLiveness[]
}

/** A processor of a group: what it reads, what it does with it, where its dead letters go. */
export interface GroupMember {
  name: string
  eventTypes: readonly EventType[]
  instance: ProcessorInstance
  deadLetter: DeadLetterSink
}

export interface StartConsumerGroupOptions {
  group: string
  /** The processors fed by this group's fetches, in registry order. */
  members: readonly GroupMember[]
  consumer: EventConsumer
  decoder: SharedDecoder
  /** How many consumer groups of this thread read a message of this type (for the shared decoder). */
  readersOf(type: string | undefined): number
  metrics: Metrics
  logger: Logger
  stallAfterMs: number
  /** Called after each commit (a worker thread reports its liveness then). */
  onCommit?: () => void
}

type Letters = Map<string, { source: { topic: string; partition: number }; list: DeadLetter[] }>

/**
 * The one skeleton every processor runs on. Per fetch of its consumer group: skip types no member
 * reads (by header), decode each message once, dead-letter what never decodes (for each member that
 * would have read it), hand each member its events in one flush (members at once; a member whose
 * flush fails while the stores answer has its bad events found alone and dead-lettered), then
 * commit once, and only then count, time and log each member's batch. A member that fails for want
 * of a store fails the whole fetch: it comes again, and every member's handle is idempotent.
 */
export async function startConsumerGroup(o: StartConsumerGroupOptions): Promise<RunningGroup> {
  const { metrics, members, group } = o
  const logger = o.logger.child({ group })
  const typesOf = members.map((m) => new Set<string>(m.eventTypes))
  const anyType: ReadonlySet<string> = new Set(members.flatMap((m) => m.eventTypes))
  const lagByPartition = new Map<string, number>()
  let lastCommitAt: number | null = null
  const startedAt = Date.now()
  o.consumer.onAssignmentChange(() => {
    lagByPartition.clear()
    for (const m of members) m.instance.onAssignmentChange?.()
  })

  async function onFetch(batches: readonly ConsumedBatch[], ctx: FetchContext): Promise<void> {
    const timers = members.map((m) => metrics.processorBatchDuration.startTimer({ processor: m.name }))
    // Which members failed (an error in the fetch's common part, decoding or the commit, is every member's).
    let failed: readonly boolean[] = members.map(() => true)
    for (const b of batches) lagByPartition.set(`${b.topic}:${b.partition}`, b.highWatermark - Number(b.messages[0]!.offset))
    try {
      const { events, letters, messages } = await decodeFetch(batches)
      const partitions = batches.map((b) => ({ topic: b.topic, partition: b.partition, lastOffset: Number(b.messages[b.messages.length - 1]!.offset) }))
      const flushes: Flush[] = members.map((_, i) => ({
        events: members.length === 1 ? events : events.filter((e) => typesOf[i]!.has(e.event.type)),
        partitions,
      }))
      for (const [i, m] of members.entries()) for (const { source, list } of letters[i]!.values()) await m.deadLetter(source, list)

      const settled = await Promise.allSettled(members.map((m, i) => handleMember(m, flushes[i]!, batches, ctx)))
      const rejected = settled.find((s) => s.status === 'rejected')
      if (rejected) {
        failed = settled.map((s) => s.status === 'rejected')
        throw rejected.reason
      }

      await ctx.commit()
      lastCommitAt = Date.now()
      for (const b of batches) lagByPartition.set(`${b.topic}:${b.partition}`, Math.max(b.highWatermark - Number(b.messages[b.messages.length - 1]!.offset) - 1, 0))
      o.onCommit?.()

      for (const [i, m] of members.entries()) {
        const seconds = timers[i]!({ result: 'ok' })
        const { outcome, poisoned } = (settled[i] as PromiseFulfilledResult<{ outcome: FlushOutcome; poisoned: number }>).value
        const undecodable = [...letters[i]!.values()].reduce((n, l) => n + l.list.length, 0)
        const mine = flushes[i]!.events
        count(m.name, 'stored', outcome.stored)
        count(m.name, 'duplicate', outcome.duplicate)
        count(m.name, 'ignored', messages - mine.length - undecodable + (outcome.ignored ?? 0))
        count(m.name, 'skipped', outcome.skipped ?? 0)
        count(m.name, 'dead_letter', undecodable + poisoned)
        logger.info(
          {
            processor: m.name,
            partitions: batches.map((b) => ({ partition: b.partition, first: b.messages[0]!.offset, last: b.messages[b.messages.length - 1]!.offset })),
            messages,
            stored: outcome.stored,
            duplicates: outcome.duplicate,
            skipped: outcome.skipped ?? 0,
            deadLetters: undecodable + poisoned,
            ...outcome.details,
            requestIds: requestIds(mine),
            seconds,
          },
          'batch stored',
        )
      }
    } catch (err) {
      for (const [i, m] of members.entries()) {
        timers[i]!({ result: 'error' })
        if (failed[i]) metrics.processorErrors.inc({ processor: m.name })
      }
      throw err
    }
  }

  /** One member's flush; on a failure while the stores answer, its bad events are found and dead-lettered. */
  async function handleMember(m: GroupMember, flush: Flush, batches: readonly ConsumedBatch[], ctx: FetchContext) {
    const { instance } = m
    const storesAnswer = () =>
      instance.probe().then(
        () => true,
        () => false,
      )
    try {
      const outcome = flush.events.length > 0 ? await instance.handle(flush) : { stored: 0, duplicate: 0 }
      return { outcome, poisoned: 0 }
    } catch (err) {
      if (isInfrastructureFailure(err) || !(await storesAnswer())) throw err
      logger.warn({ err, processor: m.name, events: flush.events.length }, 'flush failed while the stores answer; looking for the events that fail alone')
      const isolated = await isolatePoison(flush, instance.handle, storesAnswer, ctx.heartbeat)
      const letters: Letters = new Map()
      for (const { event, error } of isolated.poison) {
        const batch = batches.find((b) => b.partition === event.partition)!
        const message = batch.messages.find((x) => Number(x.offset) === event.offset)!
        letterFor(letters, batch).push({ message, reason: 'processing_failed', error: errorText(error), event: event.event })
      }
      for (const { source, list } of letters.values()) await m.deadLetter(source, list)
      return { outcome: isolated.outcome, poisoned: isolated.poison.length }
    }
  }

  function count(processor: string, outcome: string, n: number): void {
    if (n > 0) metrics.processorMessages.inc({ processor, outcome }, n)
  }

  /** The fetch's events of any member's types, and per member the messages it would have read that never decode. */
  async function decodeFetch(batches: readonly ConsumedBatch[]) {
    const events: PositionedEvent[] = []
    const letters: Letters[] = members.map(() => new Map())
    let messages = 0
    let pending: Array<Promise<void>> = []
    for (const batch of batches) {
      messages += batch.messages.length
      const take = (message: ConsumedMessage, event: EventEnvelope) => {
        if (anyType.has(event.type)) events.push({ partition: batch.partition, offset: Number(message.offset), event })
      }
      const poison = (message: ConsumedMessage, declared: string | undefined, err: unknown) => {
        if (!(err instanceof UndecodableEventError)) throw err
        // Each member that would have read it parks it under its own name, as its own group would.
        for (const [i, types] of typesOf.entries()) {
          if (declared === undefined || types.has(declared)) letterFor(letters[i]!, batch).push({ message, reason: err.reason, error: err.message })
        }
      }
      for (const message of batch.messages) {
        const declared = declaredType(message)
        // A message without the header (an older producer) is always decoded.
        if (declared !== undefined && !anyType.has(declared)) continue
        let decoded: EventEnvelope | Promise<EventEnvelope>
        try {
          decoded = o.decoder.decode(batch.topic, batch.partition, message, o.readersOf(declared))
        } catch (err) {
          poison(message, declared, err)
          continue
        }
        if (decoded instanceof Promise) {
          pending.push(decoded.then((e) => take(message, e), (err: unknown) => poison(message, declared, err)))
        } else {
          take(message, decoded)
        }
      }
      // TRICKY: a decode that had to wait for the schema registry finishes out of order; keep each
      // partition's events in offset order.
      if (pending.length > 0) {
        await Promise.all(pending)
        pending = []
        events.sort((x, y) => x.partition - y.partition || x.offset - y.offset)
      }
    }
    return { events, letters, messages }
  }

  await o.consumer.start(onFetch)
  return {
    stop: () => o.consumer.stop(),
    liveness() {
      const lag = [...lagByPartition.values()].reduce((a, b) => a + b, 0)
      const since = lastCommitAt ?? startedAt
      const state = lag > 0 && Date.now() - since > o.stallAfterMs ? 'stalled' : 'ok'
      const last_commit_at = lastCommitAt === null ? null : new Date(lastCommitAt).toISOString()
      return members.map((m) => ({ processor: m.name, group, state, lag, last_commit_at }))
    },
  }
}

function letterFor(letters: Letters, batch: { topic: string; partition: number }): DeadLetter[] {
  const k = `${batch.topic}:${batch.partition}`
  let g = letters.get(k)
  if (!g) letters.set(k, (g = { source: { topic: batch.topic, partition: batch.partition }, list: [] }))
  return g.list
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
