import { promisify } from 'node:util'
import { gzip as gzipCallback } from 'node:zlib'
import { safeJson } from './encode.ts'
import { batchBody, EventQueue, type QueuedEvent } from './event-queue.ts'
import type { ResolvedOptions } from './options.ts'
import { backoffMs, isRetryable, parseRetryAfter } from './retry.ts'
import { SDK_VERSION } from './version.ts'

const gzip = promisify(gzipCallback)

/** Why the client gave up on an event (see sdk/testdata/README.md; the Python SDK uses the same). */
export const DROP_REASONS = ['queue_overflow', 'too_large', 'rejected', 'client_error', 'retries_exhausted', 'shutdown'] as const
export type DropReason = (typeof DROP_REASONS)[number]

export interface DroppedEvent {
  id: string
  type: string
  /** The server's error code for this event, when it named one (207, 400). */
  code?: string
  message?: string
}

/** What `onDrop` receives: events given up on together, and why. */
export interface DropReport {
  reason: DropReason
  events: DroppedEvent[]
  /** The HTTP status that decided it, if any. */
  status?: number
  message: string
}

export interface SluiceStats {
  /** Events waiting in memory. */
  queued: number
  queuedBytes: number
  /** Events in the requests being sent (or waiting to be retried). */
  inFlight: number
  /** Events the server accepted. */
  sent: number
  /** HTTP requests made, retries included. */
  requests: number
  retries: number
  /** Events given up on, by reason. */
  dropped: Record<DropReason, number>
}

/** An event as `/ingest` takes it. */
export interface OutgoingEvent {
  id: string
  type: string
  timestamp: string
  data: Record<string, unknown>
}

interface Answer {
  status: number
  retryAfter: string | null
  text: string
  error?: string
}

const USER_AGENT = `sluice-sdk-typescript/${SDK_VERSION} node/${process.version}`

/**
 * The delivery half of the client: a bounded in-memory queue, sent in batches by count, bytes and
 * interval, up to `maxInFlight` requests at a time, each batch with its own retries. Nothing here
 * throws to its callers: failures become drop reports and counters.
 *
 * Batches leave the queue in order but may be answered out of order: a run's events are
 * idempotent and order-free by the contract (ids deduplicate; a run's events may arrive in any order), so
 * only "everything before the flush is settled" needs tracking, and `settledThrough` does that.
 */
export class Transport {
  private readonly queue = new EventQueue()
  /** The seq of the last event recorded. */
  private lastSeq = 0
  /** Events up to this seq are due now: a flush, the interval timer or shutdown asked for them. */
  private dueThrough = 0
  /** Batches being delivered, oldest first (a Set keeps insertion order). */
  private readonly sending = new Set<readonly QueuedEvent[]>()
  private readonly deliveries = new Set<Promise<void>>()
  private timer: NodeJS.Timeout | null = null
  private waiters: Array<{ target: number; resolve: () => void }> = []
  private closed = false
  private readonly abort = new AbortController()
  private shutdownResult: Promise<boolean> | null = null
  private readonly counters = { sent: 0, requests: 0, retries: 0 }
  private readonly dropped = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>

  constructor(private readonly o: ResolvedOptions) {
    if (o.flushOnExit) exitFlush.add(this)
  }

  /** Queues one event. Never throws. */
  enqueue(event: OutgoingEvent): void {
    try {
      if (this.closed) {
        this.drop('shutdown', [{ id: event.id, type: event.type }], 'recorded after shutdown()')
        return
      }
      const json = safeJson(event)
      const bytes = Buffer.byteLength(json)
      if (bytes > this.o.maxEventBytes) {
        this.drop('too_large', [{ id: event.id, type: event.type }], `event is ${bytes} bytes; maxEventBytes is ${this.o.maxEventBytes}`)
        return
      }
      this.queue.push({ seq: ++this.lastSeq, id: event.id, type: event.type, json, bytes })
      if (this.queue.length > this.o.maxQueueSize || this.queue.bytes > this.o.maxQueueBytes) this.overflow()
      if (this.queue.length >= this.o.flushAt || this.queue.bytes >= this.o.maxBatchBytes) this.kick()
      else this.armTimer()
    } catch (err) {
      this.debug(`internal error while queueing: ${String(err)}`)
    }
  }

  /** Resolves once every event recorded before the call is sent or given up on. Never rejects. */
  flush(): Promise<void> {
    const target = this.lastSeq
    if (this.settledThrough() >= target) return Promise.resolve()
    this.dueThrough = Math.max(this.dueThrough, target)
    // TRICKY: the retry sleeps and request timeouts are unref'd timers so that an idle client
    // never keeps a process alive; while someone awaits a flush, the process must stay up.
    const release = holdProcess()
    const settled = new Promise<void>((resolve) => this.waiters.push({ target, resolve }))
    this.kick()
    return settled.finally(release)
  }

  /**
   * Flushes, then stops: later events are dropped (`shutdown`). Resolves true when everything was
   * sent or given up on in time; at the deadline the request in flight is abandoned and what is
   * left is dropped (`shutdown`), and it resolves false. Never rejects; calling it again returns
   * the first call's promise.
   */
  shutdown(timeoutMs: number = this.o.shutdownTimeoutMs): Promise<boolean> {
    if (this.shutdownResult) return this.shutdownResult
    this.closed = true
    exitFlush.delete(this)
    this.clearTimer()
    this.shutdownResult = (async () => {
      let deadline: NodeJS.Timeout | undefined
      const expired = new Promise<false>((resolve) => {
        deadline = setTimeout(() => resolve(false), Math.max(0, timeoutMs))
      })
      const done = await Promise.race([this.flush().then(() => true as const), expired])
      clearTimeout(deadline)
      if (!done) {
        this.debug(`shutdown: ${this.queue.length + this.inFlightEvents()} events undelivered after ${timeoutMs} ms`)
        this.abort.abort()
        this.drop('shutdown', this.queue.clear(), `shutdown timed out after ${timeoutMs} ms`)
        await Promise.all([...this.deliveries])
        this.settle()
      }
      return done
    })()
    return this.shutdownResult
  }

  /** The flush at process exit (Node's `beforeExit`): a shutdown, when anything is pending. */
  flushAtExit(): void {
    if (this.queue.length > 0 || this.sending.size > 0) void this.shutdown()
  }

  stats(): SluiceStats {
    return {
      queued: this.queue.length,
      queuedBytes: this.queue.bytes,
      inFlight: this.inFlightEvents(),
      ...this.counters,
      dropped: { ...this.dropped },
    }
  }

  /**
   * Whether a send should start now. The first request goes at `flushAt`; one beside it only for a
   * full batch (or when a flush asked): under load, small batches in parallel would cost the
   * client and Sluice more per event than the waiting they save.
   */
  private due(): boolean {
    const head = this.queue.peek()
    if (!head || this.abort.signal.aborted) return false
    const full = this.queue.length >= this.o.maxBatchEvents || this.queue.bytes >= this.o.maxBatchBytes
    if (this.sending.size > 0) return head.seq <= this.dueThrough || full
    return head.seq <= this.dueThrough || this.queue.length >= this.o.flushAt || full
  }

  private inFlightEvents(): number {
    let n = 0
    for (const batch of this.sending) n += batch.length
    return n
  }

  /** Starts deliveries while something is due and fewer than `maxInFlight` are under way. */
  private kick(): void {
    while (this.sending.size < this.o.maxInFlight && this.due()) {
      const batch = this.queue.take(this.o.maxBatchEvents, this.o.maxBatchBytes)
      this.sending.add(batch)
      const delivery: Promise<void> = this.deliverBatch(batch).finally(() => {
        this.sending.delete(batch)
        this.deliveries.delete(delivery)
        this.settle()
        // An event may have become due while this batch was out.
        if (this.due()) this.kick()
        else if (this.queue.length === 0 && this.sending.size === 0) this.clearTimer()
        else this.armTimer()
      })
      this.deliveries.add(delivery)
    }
  }

  private async deliverBatch(batch: readonly QueuedEvent[]): Promise<void> {
    try {
      await this.deliver(batch)
    } catch (err) {
      // Not expected: deliver() turns every failure into a drop. Losing one batch beats a crash.
      this.drop('client_error', batch, `internal error: ${String(err)}`)
    }
  }

  /** Sends one batch until it is accepted, refused or given up on. */
  private async deliver(events: readonly QueuedEvent[]): Promise<void> {
    const raw = batchBody(events)
    const body = this.o.gzip ? await gzip(raw) : Buffer.from(raw)
    for (let attempt = 0; ; attempt++) {
      if (this.abort.signal.aborted) return this.drop('shutdown', events, 'shutdown timed out')
      const answer = await this.post(body)
      if (this.abort.signal.aborted && answer.status === 0) return this.drop('shutdown', events, 'shutdown timed out')
      const { status } = answer
      if (status >= 200 && status < 300 && status !== 207) {
        this.counters.sent += events.length
        this.debug(`sent ${events.length} events (${body.length} bytes)`)
        return
      }
      if (status === 207) return this.partial(events, answer)
      if (status === 413) {
        if (events.length === 1) return this.drop('too_large', events, `413: ${answer.text.slice(0, 200)}`, status)
        // Halves, one after the other; each may split again. Not a retry: nothing failed yet.
        const half = Math.ceil(events.length / 2)
        this.debug(`413 for ${events.length} events: splitting`)
        await this.deliver(events.slice(0, half))
        await this.deliver(events.slice(half))
        return
      }
      if (isRetryable(status)) {
        const why = status === 0 ? answer.error : `HTTP ${status}`
        if (attempt >= this.o.maxRetries) {
          return this.drop('retries_exhausted', events, `gave up after ${attempt + 1} attempts: ${why}`, status || undefined)
        }
        const asked = parseRetryAfter(answer.retryAfter)
        const wait = Math.min(asked ?? backoffMs(attempt, this.o.retryBaseMs, this.o.retryMaxMs), this.o.retryMaxMs)
        this.counters.retries++
        this.debug(`${why}; retry ${attempt + 1} of ${this.o.maxRetries} in ${wait} ms`)
        await this.sleep(wait)
        continue
      }
      return this.refused(events, answer)
    }
  }

  /** 207: only the events the server names are dropped; the rest were accepted. */
  private partial(events: readonly QueuedEvent[], answer: Answer): void {
    const named = namedErrors(events, parseJson(answer.text))
    this.counters.sent += events.length - named.length
    this.drop('rejected', named, `Sluice refused ${named.length} of ${events.length} events`, 207)
  }

  /** A final 4xx: a 400 that lists errors refused its events one by one; anything else the batch. */
  private refused(events: readonly QueuedEvent[], answer: Answer): void {
    const body = parseJson(answer.text)
    const summary = `HTTP ${answer.status}: ${typeof body?.message === 'string' ? body.message : answer.text.slice(0, 200)}`
    if (answer.status === 400 && Array.isArray(body?.errors)) {
      const named = new Map(namedErrors(events, body).map((e) => [e.id, e]))
      const all = events.map((e) => named.get(e.id) ?? { id: e.id, type: e.type })
      return this.drop('rejected', all, summary, 400)
    }
    this.drop('client_error', events, summary, answer.status)
  }

  private async post(body: Buffer): Promise<Answer> {
    this.counters.requests++
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      authorization: `Bearer ${this.o.apiKey}`,
      'user-agent': USER_AGENT,
    }
    if (this.o.gzip) headers['content-encoding'] = 'gzip'
    try {
      const res = await fetch(this.o.ingestUrl, {
        method: 'POST',
        headers,
        body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.o.requestTimeoutMs)]),
      })
      const text = await res.text()
      return { status: res.status, retryAfter: res.headers.get('retry-after'), text }
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code
      return { status: 0, retryAfter: null, text: '', error: `${(err as Error).name}: ${(err as Error).message}${cause ? ` (${cause})` : ''}` }
    }
  }

  private drop(reason: DropReason, events: ReadonlyArray<DroppedEvent | QueuedEvent>, message: string, status?: number): void {
    if (events.length === 0) return
    this.dropped[reason] += events.length
    const n = this.dropped[reason]
    // Overflow can drop an event per call: say so on the first and then every thousandth.
    if (reason !== 'queue_overflow' || n === 1 || n % 1000 === 0) {
      this.debug(`dropped ${events.length} events (${reason}${reason === 'queue_overflow' ? `, ${n} so far` : ''}): ${message}`)
    }
    if (!this.o.onDrop) return
    const report: DropReport = {
      reason,
      events: events.map((e) => {
        const d: DroppedEvent = { id: e.id, type: e.type }
        if ('code' in e && e.code !== undefined) d.code = e.code
        if ('message' in e && e.message !== undefined) d.message = e.message
        return d
      }),
      message,
    }
    if (status !== undefined) report.status = status
    try {
      this.o.onDrop(report)
    } catch (err) {
      this.debug(`onDrop threw: ${String(err)}`)
    }
  }

  private overflow(): void {
    const gone: QueuedEvent[] = []
    while (this.queue.length > 0 && (this.queue.length > this.o.maxQueueSize || this.queue.bytes > this.o.maxQueueBytes)) {
      gone.push(this.queue.shift()!)
    }
    for (const e of gone) this.drop('queue_overflow', [e], `queue full (maxQueueSize ${this.o.maxQueueSize}, maxQueueBytes ${this.o.maxQueueBytes})`)
    this.settle()
  }

  /** Every event up to this seq is sent or given up on. */
  private settledThrough(): number {
    // Batches are taken in order, so the first one still being sent holds the oldest event.
    const oldest = this.sending.values().next().value as readonly QueuedEvent[] | undefined
    const first = oldest?.[0] ?? this.queue.peek()
    return first ? first.seq - 1 : this.lastSeq
  }

  private settle(): void {
    if (this.waiters.length === 0) return
    const through = this.settledThrough()
    this.waiters = this.waiters.filter((w) => {
      if (w.target > through) return true
      w.resolve()
      return false
    })
  }

  private armTimer(): void {
    if (this.timer || this.queue.length === 0 || this.closed) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.dueThrough = Math.max(this.dueThrough, this.lastSeq)
      this.kick()
    }, this.o.flushIntervalMs)
    this.timer.unref()
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }

  private sleep(ms: number): Promise<void> {
    const signal = this.abort.signal
    return new Promise((resolve) => {
      if (signal.aborted) return resolve()
      const done = () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      timer.unref()
      signal.addEventListener('abort', done, { once: true })
    })
  }

  private debug(message: string): void {
    if (this.o.debug) console.error(`[sluice] ${message}`)
  }
}

function parseJson(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null
  } catch {
    return null
  }
}

/** The events a 207/400 body's `errors` names (by index in the request, else by id), in request order. */
function namedErrors(events: readonly QueuedEvent[], body: Record<string, unknown> | null): DroppedEvent[] {
  const errors = Array.isArray(body?.errors) ? (body.errors as unknown[]) : []
  const byIndex = new Map<number, DroppedEvent>()
  for (const raw of errors) {
    if (typeof raw !== 'object' || raw === null) continue
    const e = raw as Record<string, unknown>
    let index = typeof e.index === 'number' && Number.isInteger(e.index) ? e.index : -1
    if (index < 0 || index >= events.length || (typeof e.id === 'string' && events[index]!.id !== e.id)) {
      index = events.findIndex((ev) => ev.id === e.id)
    }
    if (index < 0 || byIndex.has(index)) continue
    const d: DroppedEvent = { id: events[index]!.id, type: events[index]!.type }
    if (typeof e.code === 'string') d.code = e.code
    if (typeof e.message === 'string') d.message = e.message
    byIndex.set(index, d)
  }
  return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, d]) => d)
}

/** A ref'd timer that keeps the event loop alive until released. */
function holdProcess(): () => void {
  const timer = setInterval(() => {}, 1 << 30)
  return () => clearInterval(timer)
}

/** Transports that flush when the process is about to exit; one process listener serves them all. */
const exitFlush = new (class extends Set<Transport> {
  private readonly listener = () => {
    for (const t of [...this]) t.flushAtExit()
  }

  override add(t: Transport): this {
    if (this.size === 0) process.on('beforeExit', this.listener)
    return super.add(t)
  }

  override delete(t: Transport): boolean {
    const had = super.delete(t)
    if (had && this.size === 0) process.off('beforeExit', this.listener)
    return had
  }
})()
