import pino from 'pino'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { Config } from '../../lib/config.ts'
import { createLogger } from '../../lib/logger.ts'
import { createMetrics, type Metrics } from '../../lib/metrics.ts'
import {
  attemptsOf,
  createTestDatabase,
  deliveryState,
  insertDelivery,
  seedComplaint,
  startReceiver,
  waitFor,
  type Receiver,
  type Seeded,
  type TestDatabase,
} from './test-helpers.ts'
import { createWebhookDispatcher, type WebhookDispatcher, type WebhookDispatcherOptions } from './webhook-dispatcher.ts'
import { verifyWebhookSignature } from './webhook-signature.ts'

// Loopback receivers stand in for users' endpoints, so the SSRF guard is off here (its own file
// turns it on). Backoff and timeouts are tiny so retries happen within the test.
const webhooks: Config['webhooks'] = { allowPrivate: true, timeoutMs: 1_000, maxAttempts: 8, pollIntervalMs: 20, backoffBaseMs: 1_000, backoffMaxMs: 600_000 }
const logger = createLogger({ level: 'silent' })

describe('webhook dispatcher (Postgres, loopback receivers)', () => {
  let db: TestDatabase
  let seeded: Seeded
  const receivers: Receiver[] = []
  const dispatchers: WebhookDispatcher[] = []
  let metrics: Metrics

  beforeAll(async () => {
    db = await createTestDatabase()
    seeded = await seedComplaint(db.pg)
  })
  afterAll(async () => {
    await db?.drop()
  })
  beforeEach(async () => {
    metrics = createMetrics({ defaultMetrics: false })
    await db.pg.query('DELETE FROM deliveries')
  })
  afterEach(async () => {
    await Promise.all(dispatchers.splice(0).map((d) => d.stop()))
    await Promise.all(receivers.splice(0).map((r) => r.close()))
  })

  async function receiver(handle: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
    const r = await startReceiver(handle)
    receivers.push(r)
    return r
  }

  function dispatcher(overrides: Partial<WebhookDispatcherOptions> = {}): WebhookDispatcher {
    const d = createWebhookDispatcher({
      pg: db.pg,
      config: webhooks,
      metrics,
      logger,
      backoff: { baseMs: 1, capMs: 5 },
      ...overrides,
    })
    dispatchers.push(d)
    return d
  }

  async function outcomeCounts(): Promise<Record<string, number>> {
    const { values } = await metrics.webhookDeliveries.get()
    return Object.fromEntries(values.map((v) => [String(v.labels.outcome), v.value]))
  }

  it('retries a 503 (Retry-After: 0), then delivers on the 200 with the same delivery id and a valid signature each time', async () => {
    const r = await receiver((_req, res, i) => (i === 0 ? res.writeHead(503, { 'retry-after': '0' }).end('busy') : res.writeHead(200).end()))
    const id = await insertDelivery(db.pg, seeded, { url: r.url(), secret: 'whsec_retry' })
    const d = dispatcher()

    expect(await d.runOnce()).toEqual({ claimed: 1, outcomes: { succeeded: 0, retry: 1, failed: 0, refused: 0 } })
    expect(await deliveryState(db.pg, id)).toMatchObject({ status: 'pending', attempts: 1, last_status_code: 503, last_error: 'HTTP 503: busy', lease_owner: null })
    await waitFor(async () => (await d.runOnce()).claimed === 1)

    expect(r.received).toHaveLength(2)
    const [first, second] = r.received
    const { rows } = await db.pg.query<{ body: string }>('SELECT body FROM deliveries WHERE id = $1', [id])
    for (const got of [first!, second!]) {
      expect(got.headers['x-sluice-delivery']).toBe(id)
      expect(got.body).toBe(rows[0]!.body)
      expect(verifyWebhookSignature('whsec_retry', got.body, String(got.headers['x-sluice-signature']))).toMatchObject({ ok: true })
    }
    expect(await deliveryState(db.pg, id)).toMatchObject({ status: 'succeeded', attempts: 2, last_status_code: 200, last_error: null, lease_owner: null })
    expect(await attemptsOf(db.pg, id)).toEqual([
      { attempt: 1, status_code: 503, error: 'HTTP 503: busy' },
      { attempt: 2, status_code: 200, error: null },
    ])
    expect(await outcomeCounts()).toEqual({ retry: 1, succeeded: 1 })
    expect((await metrics.webhookAttemptDuration.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value).toBe(2)
  })

  it('fails a 400 at once, after one attempt', async () => {
    const r = await receiver((_req, res) => res.writeHead(400).end('{"error":"unknown event"}'))
    const id = await insertDelivery(db.pg, seeded, { url: r.url() })
    const d = dispatcher()
    expect((await d.runOnce()).outcomes.failed).toBe(1)
    expect(await deliveryState(db.pg, id)).toMatchObject({ status: 'failed', attempts: 1, last_status_code: 400, last_error: 'HTTP 400: {"error":"unknown event"}' })
    expect(await d.runOnce()).toMatchObject({ claimed: 0 })
    expect(r.received).toHaveLength(1)
    expect(await attemptsOf(db.pg, id)).toHaveLength(1)
  })

  it('schedules a retry, with backoff, when the receiver never answers', async () => {
    const r = await receiver(() => {})
    const id = await insertDelivery(db.pg, seeded, { url: r.url() })
    const d = dispatcher({ config: { ...webhooks, timeoutMs: 150 }, backoff: { baseMs: 60_000, capMs: 600_000, random: () => 0.5 } })
    const before = Date.now()
    expect((await d.runOnce()).outcomes.retry).toBe(1)
    const state = await deliveryState(db.pg, id)
    expect(state).toMatchObject({ status: 'pending', attempts: 1, last_status_code: null, last_error: 'timed out after 150 ms', lease_owner: null })
    // 0.5 × 60 s: due again in about 30 s, so not claimable now.
    expect(state.next_attempt_at.getTime() - before).toBeGreaterThan(25_000)
    expect(state.next_attempt_at.getTime() - before).toBeLessThan(35_000)
    expect(await d.runOnce()).toMatchObject({ claimed: 0 })
  })

  it('fails a delivery once maxAttempts attempts have timed out', async () => {
    const r = await receiver(() => {})
    const id = await insertDelivery(db.pg, seeded, { url: r.url() })
    const d = dispatcher({ config: { ...webhooks, timeoutMs: 100, maxAttempts: 3 } })
    await waitFor(async () => {
      await d.runOnce()
      return (await deliveryState(db.pg, id)).status !== 'pending'
    })
    expect(await deliveryState(db.pg, id)).toMatchObject({ status: 'failed', attempts: 3, last_error: 'timed out after 100 ms' })
    expect((await attemptsOf(db.pg, id)).map((a) => a.attempt)).toEqual([1, 2, 3])
    expect(r.received).toHaveLength(3)
    expect(await outcomeCounts()).toEqual({ retry: 2, failed: 1 })
  })

  it('two dispatchers racing over 20 due deliveries send each exactly once', async () => {
    const perDelivery = new Map<string, number>()
    const r = await receiver((req, res) => {
      const id = String(req.headers['x-sluice-delivery'])
      perDelivery.set(id, (perDelivery.get(id) ?? 0) + 1)
      setTimeout(() => res.writeHead(200).end(), Math.floor(Math.random() * 15))
    })
    const ids = await Promise.all(Array.from({ length: 20 }, () => insertDelivery(db.pg, seeded, { url: r.url() })))
    const metricsA = createMetrics({ defaultMetrics: false })
    const metricsB = createMetrics({ defaultMetrics: false })
    const a = dispatcher({ owner: 'dispatcher-a', metrics: metricsA })
    const b = dispatcher({ owner: 'dispatcher-b', metrics: metricsB })
    a.start()
    b.start()
    await waitFor(async () => {
      const { rows } = await db.pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM deliveries WHERE status = 'succeeded'`)
      return rows[0]!.n === 20
    })
    await Promise.all([a.stop(), b.stop()])

    expect([...perDelivery.keys()].sort()).toEqual([...ids].sort())
    expect([...perDelivery.values()].every((n) => n === 1)).toBe(true)
    expect(r.received).toHaveLength(20)
    const { rows } = await db.pg.query<{ n: number }>('SELECT count(*)::int AS n FROM delivery_attempts')
    expect(rows[0]!.n).toBe(20)
    // Both took part (each claims at most 4 at a time, so neither can take all 20 at once).
    const sentA = (await metricsA.webhookDeliveries.get()).values[0]?.value ?? 0
    const sentB = (await metricsB.webhookDeliveries.get()).values[0]?.value ?? 0
    expect(sentA + sentB).toBe(20)
    expect(Math.min(sentA, sentB)).toBeGreaterThan(0)
  })

  it('stop() waits for an in-flight delivery to be sent and recorded', async () => {
    const r = await receiver((_req, res) => setTimeout(() => res.writeHead(200).end(), 300))
    const id = await insertDelivery(db.pg, seeded, { url: r.url() })
    const d = dispatcher()
    d.start()
    await waitFor(() => r.received.length === 1)
    await d.stop()
    expect(await deliveryState(db.pg, id)).toMatchObject({ status: 'succeeded', attempts: 1, lease_owner: null })
  })

  it('wake() polls at once instead of at the end of a long interval', async () => {
    const r = await receiver((_req, res) => res.writeHead(200).end())
    const d = dispatcher({ config: { ...webhooks, pollIntervalMs: 60_000 } })
    d.start()
    // Let the first (empty) poll go by, so the loop is asleep for a minute.
    await new Promise((resolve) => setTimeout(resolve, 100))
    const id = await insertDelivery(db.pg, seeded, { url: r.url() })
    const woken = Date.now()
    d.wake()
    await waitFor(async () => (await deliveryState(db.pg, id)).status === 'succeeded', 5_000)
    expect(Date.now() - woken).toBeLessThan(5_000)
    const started = Date.now()
    await d.stop()
    expect(Date.now() - started).toBeLessThan(1_000)
  })

  it('publishes the dispatcher lag', async () => {
    const r = await receiver((_req, res) => res.writeHead(200).end())
    await insertDelivery(db.pg, seeded, { url: r.url(), dueInSeconds: -20 })
    const d = dispatcher()
    await d.runOnce()
    expect((await metrics.webhookDispatcherLag.get()).values[0]!.value).toBeGreaterThanOrEqual(20)
    await d.runOnce()
    expect((await metrics.webhookDispatcherLag.get()).values[0]!.value).toBe(0)
  })

  it('logs each attempt without the secret, the signature, the body or the URL path', async () => {
    const lines: string[] = []
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) })
    const r = await receiver((_req, res) => res.writeHead(500).end())
    const id = await insertDelivery(db.pg, seeded, {
      url: r.url('/hooks/T0KEN-IN-PATH?sig=QUERY-TOKEN'),
      secret: 'whsec_do_not_log',
      body: '{"body":"BODY-MARKER"}',
    })
    await dispatcher({ logger: log }).runOnce()
    const attemptLines = lines.filter((l) => l.includes(id))
    expect(attemptLines).toHaveLength(1)
    expect(JSON.parse(attemptLines[0]!)).toMatchObject({
      delivery_id: id,
      attempt: 1,
      outcome: 'retry',
      status_code: 500,
      destination: `http://127.0.0.1:${r.port}`,
    })
    for (const secret of ['whsec_do_not_log', 'BODY-MARKER', 'T0KEN-IN-PATH', 'QUERY-TOKEN', 'v1=']) {
      expect(lines.join('\n')).not.toContain(secret)
    }
  })
})
