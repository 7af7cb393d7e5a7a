import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { performance } from 'node:perf_hooks'
import type { Config } from '../../lib/config.ts'
import type { Logger } from '../../lib/logger.ts'
import type { Metrics } from '../../lib/metrics.ts'
import type { PgPool } from '../../lib/postgres.ts'
import { backoffDelayMs, type BackoffOptions } from './backoff.ts'
import { createDeliveryStore, type AttemptRecord, type ClaimedDelivery } from './delivery-store.ts'
import { MAX_REDIRECTS, sendWebhook, type PinnedConnect, type SendOptions, type SendResult } from './send-webhook.ts'
import type { LookupAll } from './ssrf-guard.ts'

export const DEFAULT_CONCURRENCY = 4
// Time for the attempt's own bookkeeping after the send (a Postgres transaction under load).
const LEASE_MARGIN_MS = 30_000

/** The outcome of one attempt, as counted in `sluice_webhook_deliveries_total{outcome}`. */
export type AttemptOutcome = 'succeeded' | 'retry' | 'failed' | 'refused'

export interface RunSummary {
  claimed: number
  outcomes: Record<AttemptOutcome, number>
}

export interface WebhookDispatcherOptions {
  pg: PgPool
  config: Config['webhooks']
  metrics: Metrics
  logger: Logger
  /** Names this instance's leases (default: host, pid and a random suffix). */
  owner?: string
  /** Deliveries sent at once (default 4). */
  concurrency?: number
  /** How long a claimed delivery is this instance's (default: `leaseMsFor(config.timeoutMs)`); tests shorten it. */
  leaseMs?: number
  /** Overrides the backoff of `config` (tests inject `random`). */
  backoff?: Partial<BackoffOptions>
  /** Name resolution (default: the system resolver); tests map names to loopback. */
  lookup?: LookupAll
  /** Socket opener (default: `connectPinned`); tests wrap it to see every address connected to. */
  connect?: PinnedConnect
  /** FOR TESTS ONLY: addresses the SSRF guard lets through although forbidden. */
  allowAddressesForTests?: readonly string[]
}

export interface WebhookDispatcher {
  /** Polls every `pollIntervalMs` and keeps up to `concurrency` deliveries in flight. */
  start(): void
  /** Polls now rather than at the end of the current interval (e.g. right after an outbox write). */
  wake(): void
  /** Stops polling, waits for in-flight attempts to be sent and recorded, clears its timers. */
  stop(): Promise<void>
  /**
   * Claims one round of due deliveries (up to `concurrency`), sends them and records the outcomes.
   * For tests and scripts; `start()` does this continuously.
   */
  runOnce(): Promise<RunSummary>
}

/**
 * The lease a claim takes. The send has one deadline for all its hops, so `timeoutMs` plus the
 * margin would do; counting every hop at `timeoutMs` keeps it safe should that ever change.
 */
export function leaseMsFor(timeoutMs: number): number {
  return (MAX_REDIRECTS + 1) * timeoutMs + LEASE_MARGIN_MS
}

/**
 * Delivers the webhook outbox (`deliveries`): claims due rows under a lease, POSTs each signed,
 * through the SSRF guard, and records every attempt. Retries network errors, timeouts, 408, 429
 * and 5xx with jittered exponential backoff until `maxAttempts`; other failures are final.
 * At least once: an attempt whose outcome could not be recorded is sent again when its lease
 * expires, with the same `x-sluice-delivery` for the receiver to deduplicate.
 *
 *   const dispatcher = createWebhookDispatcher({ pg, config: config.webhooks, metrics, logger })
 *   dispatcher.start()
 *   // on shutdown, after intake stopped and before pg.end():
 *   await dispatcher.stop()
 */
export function createWebhookDispatcher(options: WebhookDispatcherOptions): WebhookDispatcher {
  const { config, metrics } = options
  const owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
  const concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY)
  const backoff: Partial<BackoffOptions> = { baseMs: config.backoffBaseMs, capMs: config.backoffMaxMs, ...options.backoff }
  const leaseMs = options.leaseMs ?? leaseMsFor(config.timeoutMs)
  const store = createDeliveryStore({ pg: options.pg })
  const logger = options.logger.child({ component: 'webhook-dispatcher', owner })
  const sendOptions: SendOptions = {
    timeoutMs: config.timeoutMs,
    allowPrivate: config.allowPrivate,
    lookup: options.lookup,
    connect: options.connect,
    allowAddressesForTests: options.allowAddressesForTests,
  }

  let running = false
  let loopDone: Promise<void> | undefined
  const inFlight = new Set<Promise<AttemptOutcome>>()
  let sleeping: { timer: NodeJS.Timeout; resolve: () => void } | undefined
  let wokenEarly = false
  let lagCheckedAt = 0
  // TRICKY: attempts that were sent but could not be recorded (Postgres did not answer). They are
  // recorded again before anything else is claimed, and a delivery among them that this dispatcher
  // claims again (its lease expired meanwhile) is not sent again: the receiver has it already.
  const unrecorded = new Map<string, { record: AttemptRecord; fields: Record<string, unknown> }>()

  async function recordUnrecorded(): Promise<void> {
    for (const [id, { record, fields }] of unrecorded) {
      let recorded: boolean
      try {
        recorded = await store.recordAttempt(owner, record)
      } catch {
        return // still not answering; the next poll tries again
      }
      unrecorded.delete(id)
      if (recorded) logger.info(fields, 'webhook attempt recorded once Postgres answered again')
      else logger.warn(fields, 'webhook attempt not recorded: the lease passed to another dispatcher, or the delivery was deleted')
    }
  }

  async function deliver(d: ClaimedDelivery): Promise<AttemptOutcome> {
    const attempt = d.attempts + 1
    const startedAt = new Date()
    const t0 = performance.now()
    let result: SendResult
    try {
      result = await sendWebhook({ deliveryId: d.id, url: d.url, secret: d.secret, event: d.event, body: d.body }, sendOptions)
    } catch (err) {
      // sendWebhook returns its failures; a throw is a bug, and one the next attempt may not repeat.
      result = { kind: 'retry', error: `internal error: ${(err as Error).message}` }
    }
    const durationMs = performance.now() - t0
    metrics.webhookAttemptDuration.observe(durationMs / 1000)

    const next = decide(result, attempt)
    const statusCode = result.kind === 'refused' ? null : (result.status ?? null)
    const error = result.kind === 'delivered' ? null : result.error
    metrics.webhookDeliveries.inc({ outcome: next.outcome })
    // Never the secret, the signature, the body or the URL's path and query (which often carry tokens).
    const fields = {
      delivery_id: d.id,
      complaint_id: d.complaintId,
      project_id: d.projectId,
      action: d.action,
      destination: originOf(d.url),
      attempt,
      outcome: next.outcome,
      status_code: statusCode,
      error,
      duration_ms: Math.round(durationMs),
      retry_in_ms: next.retryInMs,
    }
    const record: AttemptRecord = { deliveryId: d.id, attempt, startedAt, durationMs, statusCode, error, ...next }
    try {
      if (!(await store.recordAttempt(owner, record))) {
        logger.warn(fields, 'webhook attempt not recorded: the lease passed to another dispatcher, or the delivery was deleted')
        return next.outcome
      }
    } catch (err) {
      unrecorded.set(d.id, { record, fields })
      logger.error({ ...fields, err }, 'webhook attempt sent but not recorded; recording it again until Postgres answers (it is not sent again)')
      return next.outcome
    }
    if (next.outcome === 'succeeded') logger.info(fields, 'webhook delivered')
    else logger.warn(fields, `webhook attempt ${next.outcome === 'retry' ? 'failed, will retry' : next.outcome}`)
    return next.outcome
  }

  function decide(result: SendResult, attempt: number): Pick<AttemptRecord, 'status' | 'retryInMs'> & { outcome: AttemptOutcome } {
    switch (result.kind) {
      case 'delivered':
        return { status: 'succeeded', outcome: 'succeeded' }
      case 'refused':
        return { status: 'failed', outcome: 'refused' }
      case 'failed':
        return { status: 'failed', outcome: 'failed' }
      case 'retry':
        if (attempt >= config.maxAttempts) return { status: 'failed', outcome: 'failed' }
        return { status: 'pending', outcome: 'retry', retryInMs: backoffDelayMs(attempt, backoff, result.retryAfterMs) }
    }
  }

  function track(delivery: Promise<AttemptOutcome>): void {
    inFlight.add(delivery)
    void delivery.finally(() => inFlight.delete(delivery))
  }

  async function refreshLag(force: boolean): Promise<void> {
    if (!force && Date.now() - lagCheckedAt < config.pollIntervalMs) return
    lagCheckedAt = Date.now()
    metrics.webhookDispatcherLag.set(await store.dispatcherLagSeconds())
  }

  function sleep(ms: number): Promise<void> {
    if (wokenEarly) {
      wokenEarly = false
      return Promise.resolve()
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => wake(), ms)
      sleeping = { timer, resolve }
    })
  }

  function wake(): void {
    if (!sleeping) {
      wokenEarly = true
      return
    }
    const { timer, resolve } = sleeping
    sleeping = undefined
    clearTimeout(timer)
    resolve()
  }

  async function loop(): Promise<void> {
    while (running) {
      let slotsFull = false
      try {
        await recordUnrecorded()
        await refreshLag(false)
        const free = concurrency - inFlight.size
        if (free > 0) {
          const claimed = await store.claimDue(owner, free, leaseMs)
          for (const d of claimed) if (!unrecorded.has(d.id)) track(deliver(d))
          // As many as asked for: more may be due, so claim again as soon as a slot frees.
          slotsFull = claimed.length === free
        } else {
          slotsFull = true
        }
      } catch (err) {
        metrics.processorErrors.inc({ processor: 'webhook-dispatcher' })
        logger.error({ err }, 'webhook dispatcher poll failed; trying again after the poll interval')
      }
      if (!running) break
      if (slotsFull && inFlight.size > 0) await Promise.race(inFlight)
      else await sleep(config.pollIntervalMs)
    }
    await Promise.all(inFlight)
  }

  return {
    start() {
      if (running) return
      running = true
      wokenEarly = false
      loopDone = loop()
      logger.info({ concurrency, poll_interval_ms: config.pollIntervalMs, lease_ms: leaseMs }, 'webhook dispatcher started')
    },
    wake,
    async stop() {
      if (!running) return
      running = false
      wake()
      await loopDone
      wokenEarly = false
      logger.info('webhook dispatcher stopped')
    },
    async runOnce() {
      await recordUnrecorded()
      await refreshLag(true)
      const claimed = (await store.claimDue(owner, concurrency, leaseMs)).filter((d) => !unrecorded.has(d.id))
      const outcomes: RunSummary['outcomes'] = { succeeded: 0, retry: 0, failed: 0, refused: 0 }
      for (const outcome of await Promise.all(claimed.map(deliver))) outcomes[outcome] += 1
      return { claimed: claimed.length, outcomes }
    },
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return '(invalid URL)'
  }
}
