import { randomUUID } from 'node:crypto'
import type { EventCodec } from '../lib/avro/event-codec.ts'
import {
  BatchTooLargeError,
  BrokerUnavailableError,
  EmptyBatchError,
  EVENT_ERROR_CODES,
  NoValidEventsError,
  RateLimitedError,
  type EventError,
} from '../lib/errors.ts'
import type { EventEnvelope } from '../lib/event-types.ts'
import { guardJson, MAX_JSON_DEPTH } from '../lib/json-guard.ts'
import type { EventProducer, OutgoingMessage } from '../lib/kafka/event-producer.ts'
import { EVENT_TYPE_HEADER, REQUEST_ID_HEADER } from '../lib/kafka/headers.ts'
import type { Logger } from '../lib/logger.ts'
import type { Metrics } from '../lib/metrics.ts'
import { normalizeEvent } from './event-schema.ts'
import type { RateLimiter } from './rate-limiter.ts'

const WRAPPING_SLACK_BYTES = 64

export interface AcceptResult {
  processed: number
  errors: EventError[]
}

export interface BatchAcceptorOptions {
  codec: EventCodec
  producer: EventProducer
  topic: string
  maxBatchEvents: number
  maxEventBytes: number
  rateLimiter: RateLimiter
  metrics: Metrics
  logger: Logger
}

/**
 * The write path shared by `/ingest` and `POST /api/logs`: validate each event, refuse the batch
 * when it is over the limits, encode the valid ones in Avro and send them in one produce that the
 * broker acknowledges on all in-sync replicas. Resolves only after that acknowledgement.
 */
export function createBatchAcceptor(options: BatchAcceptorOptions) {
  const { codec, producer, topic, metrics } = options

  return async function accept(
    events: readonly unknown[],
    ctx: { projectId: string; requestId: string; bodyBytes: number; textMayBeUnstorable?: boolean },
  ): Promise<AcceptResult> {
    if (events.length === 0) throw new EmptyBatchError()
    if (events.length > options.maxBatchEvents) throw new BatchTooLargeError(events.length, options.maxBatchEvents)

    const receivedAt = Date.now()
    const accepted: EventEnvelope[] = []
    const errors: EventError[] = []
    // Only a body larger than the per-event limit can hold an event over it: skip the sizing
    // otherwise. The slack covers the envelope POST /api/logs wraps around each log it was sent.
    const sizeEvents = ctx.bodyBytes + WRAPPING_SLACK_BYTES > options.maxEventBytes
    const checkText = ctx.textMayBeUnstorable ?? true
    const eventContext = { projectId: ctx.projectId, receivedAt, requestId: ctx.requestId, newId: randomUUID }
    for (let index = 0; index < events.length; index++) {
      const raw = events[index]
      // First, before anything recursive (JSON.stringify below, zod) meets a deep value. Text no
      // store can hold is stored with U+FFFD instead (docs/reliability.md).
      const problem = guardJson(raw, { repair: true, text: checkText })
      // Echoed in errors[]: an id is a UUID, so a longer one is shown cut.
      const rawId = typeof raw === 'object' && raw !== null && typeof (raw as { id?: unknown }).id === 'string' ? (raw as { id: string }).id.slice(0, 100) : null
      if (problem) {
        errors.push({ index, id: rawId, code: EVENT_ERROR_CODES.invalidEvent, message: `${problem.path.slice(0, 200)}: nests deeper than ${MAX_JSON_DEPTH} levels` })
        continue
      }
      if (sizeEvents && Buffer.byteLength(JSON.stringify(raw)) > options.maxEventBytes) {
        errors.push({ index, id: rawId, code: EVENT_ERROR_CODES.eventTooLarge, message: `Event exceeds ${options.maxEventBytes} bytes` })
        continue
      }
      const result = normalizeEvent(raw, eventContext)
      if ('ok' in result) accepted.push(result.ok)
      else {
        const code = result.problem.kind === 'unknown_type' ? EVENT_ERROR_CODES.unknownType : EVENT_ERROR_CODES.invalidEvent
        errors.push({ index, id: rawId, code, message: result.problem.message })
      }
    }
    countByType(metrics, errors.map((e) => eventTypeOf(events[e.index])), 'invalid')
    if (accepted.length === 0) {
      const err = new NoValidEventsError(errors.length)
      throw Object.assign(err, { errors })
    }
    const acceptedTypes = accepted.map((e) => e.type)

    const decision = await options.rateLimiter(ctx.projectId, accepted.length)
    if (!decision.allowed) {
      countByType(metrics, acceptedTypes, 'rate_limited')
      throw Object.assign(new RateLimitedError(decision.eventsPerSecond), { retryAfterSeconds: decision.retryAfterSeconds })
    }

    const values = await codec.encodeMany(accepted)
    const messages: OutgoingMessage[] = new Array<OutgoingMessage>(accepted.length)
    for (let i = 0; i < accepted.length; i++) {
      const e = accepted[i]!
      messages[i] = { key: partitionKey(e), value: values[i]!, headers: { [REQUEST_ID_HEADER]: ctx.requestId, [EVENT_TYPE_HEADER]: e.type } }
    }
    const end = metrics.produceDuration.startTimer({ topic })
    try {
      await producer.send(topic, messages)
      end({ result: 'ok' })
    } catch (err) {
      end({ result: 'error' })
      options.logger.warn({ err, requestId: ctx.requestId, events: messages.length }, 'produce failed')
      countByType(metrics, acceptedTypes, 'unavailable')
      throw Object.assign(new BrokerUnavailableError(), { retryAfterSeconds: 5 })
    }
    countByType(metrics, acceptedTypes, 'accepted')
    return { processed: accepted.length, errors }
  }
}

/** One counter update per type and batch, not per event: labelled increments are not free. */
function countByType(metrics: Metrics, types: readonly string[], result: string): void {
  if (types.length === 0) return
  const counts = new Map<string, number>()
  for (const type of types) counts.set(type, (counts.get(type) ?? 0) + 1)
  for (const [type, n] of counts) metrics.ingestEvents.inc({ type, result }, n)
}

export type BatchAcceptor = ReturnType<typeof createBatchAcceptor>

/** Every event of one run shares a key, so one partition, so one consumer sees them in order. */
export function partitionKey(e: EventEnvelope): string {
  if (e.type === 'log') return e.payload.run_id ?? e.id
  return e.payload.run_id
}

function eventTypeOf(raw: unknown): string {
  const t = typeof raw === 'object' && raw !== null ? (raw as { type?: unknown }).type : undefined
  return typeof t === 'string' && ['run_start', 'step_complete', 'run_complete', 'log'].includes(t) ? t : 'unknown'
}
