import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { Config } from '../../lib/config.ts'
import { createLogger } from '../../lib/logger.ts'
import { createMetrics, type Metrics } from '../../lib/metrics.ts'
import {
  attemptsOf,
  createTestDatabase,
  deliveryState,
  fakeLookup,
  insertDelivery,
  loopbackOnlyConnect,
  seedComplaint,
  startReceiver,
  type Receiver,
  type Seeded,
  type TestDatabase,
} from './test-helpers.ts'
import { createWebhookDispatcher, type WebhookDispatcherOptions } from './webhook-dispatcher.ts'

// The guard ON, as in production. Every test injects a connect spy that records each address a
// request was about to reach and refuses all but 127.0.0.1, and a lookup table instead of DNS
// (except 'localhost', which the system resolves from /etc/hosts): nothing here can leave the host.
const webhooks: Config['webhooks'] = { allowPrivate: false, timeoutMs: 1_000, maxAttempts: 8, pollIntervalMs: 20, backoffBaseMs: 1_000, backoffMaxMs: 600_000 }
const logger = createLogger({ level: 'silent' })

describe('webhook dispatcher SSRF guard (Postgres, loopback receiver)', () => {
  let db: TestDatabase
  let seeded: Seeded
  let metrics: Metrics
  let receiver: Receiver | undefined
  let connected: string[]
  let asked: string[]

  beforeAll(async () => {
    db = await createTestDatabase()
    seeded = await seedComplaint(db.pg)
  })
  afterAll(async () => {
    await db?.drop()
  })
  beforeEach(async () => {
    metrics = createMetrics({ defaultMetrics: false })
    connected = []
    asked = []
    await db.pg.query('DELETE FROM deliveries')
  })
  afterEach(async () => {
    await receiver?.close()
    receiver = undefined
  })

  async function listen(handle: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
    const r = await startReceiver(handle)
    receiver = r
    return r
  }

  function dispatcher(overrides: Partial<WebhookDispatcherOptions> = {}) {
    return createWebhookDispatcher({
      pg: db.pg,
      config: webhooks,
      metrics,
      logger,
      lookup: fakeLookup(
        { 'hooks.example.test': ['127.0.0.1'], 'public.example.test': ['127.0.0.1'], 'internal.example.test': ['10.0.0.7'] },
        asked,
      ),
      connect: loopbackOnlyConnect(connected),
      ...overrides,
    })
  }

  async function refusedCount(): Promise<number> {
    const { values } = await metrics.webhookDeliveries.get()
    return values.find((v) => v.labels.outcome === 'refused')?.value ?? 0
  }

  it('(a) refuses a name that resolves to loopback, and the receiver sees no connection at all', async () => {
    const r = await listen((_req, res) => res.end())
    const id = await insertDelivery(db.pg, seeded, { url: `http://hooks.example.test:${r.port}/hook` })
    expect((await dispatcher().runOnce()).outcomes).toEqual({ succeeded: 0, retry: 0, failed: 0, refused: 1 })

    expect(await deliveryState(db.pg, id)).toMatchObject({
      status: 'failed',
      attempts: 1,
      last_status_code: null,
      last_error: 'hooks.example.test resolves to 127.0.0.1, which is loopback: not allowed as a webhook destination',
    })
    expect(await attemptsOf(db.pg, id)).toHaveLength(1)
    expect(asked).toEqual(['hooks.example.test'])
    expect(connected).toEqual([])
    expect(r.connections).toBe(0)
    expect(await refusedCount()).toBe(1)
  })

  it('(a) refuses plain localhost, resolved by the system', async () => {
    const r = await listen((_req, res) => res.end())
    const id = await insertDelivery(db.pg, seeded, { url: `http://localhost:${r.port}/hook` })
    // The system resolver: localhost comes from /etc/hosts, not the network.
    const d = dispatcher({ lookup: undefined })
    expect((await d.runOnce()).outcomes.refused).toBe(1)
    const state = await deliveryState(db.pg, id)
    expect(state).toMatchObject({ status: 'failed', attempts: 1 })
    expect(state.last_error).toMatch(/^localhost resolves to (127\.0\.0\.1|::1), which is loopback/)
    expect(connected).toEqual([])
    expect(r.connections).toBe(0)
  })

  it('(b) refuses a redirect to the metadata address without ever connecting to it', async () => {
    const r = await listen((_req, res) => res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end())
    const id = await insertDelivery(db.pg, seeded, { url: `http://public.example.test:${r.port}/hook` })
    // TEST ONLY: lets the loopback receiver stand in for a public first hop.
    const d = dispatcher({ allowAddressesForTests: ['127.0.0.1'] })
    expect((await d.runOnce()).outcomes.refused).toBe(1)

    expect(await deliveryState(db.pg, id)).toMatchObject({
      status: 'failed',
      attempts: 1,
      last_error: 'redirect refused: 169.254.169.254, which is link-local (cloud metadata): not allowed as a webhook destination',
    })
    expect(r.received).toHaveLength(1)
    expect(asked).toEqual(['public.example.test'])
    expect(connected).toEqual(['127.0.0.1'])
    // Refused is final: nothing is due again.
    expect(await d.runOnce()).toMatchObject({ claimed: 0 })
  })

  it('(b) refuses a redirect to a name that resolves to a private address', async () => {
    const r = await listen((_req, res) => res.writeHead(307, { location: 'http://internal.example.test/admin' }).end())
    const id = await insertDelivery(db.pg, seeded, { url: `http://public.example.test:${r.port}/hook` })
    expect((await dispatcher({ allowAddressesForTests: ['127.0.0.1'] }).runOnce()).outcomes.refused).toBe(1)
    expect((await deliveryState(db.pg, id)).last_error).toBe(
      'redirect refused: internal.example.test resolves to 10.0.0.7, which is private: not allowed as a webhook destination',
    )
    expect(asked).toEqual(['public.example.test', 'internal.example.test'])
    expect(connected).toEqual(['127.0.0.1'])
  })

  it('(c) refuses private and metadata IP literals before any lookup or connection', async () => {
    const urls = ['http://10.1.2.3/hook', 'http://[fd00:ec2::254]/latest/meta-data/', 'http://0xa9.0xfe.0xa9.0xfe/', 'http://[::ffff:10.1.2.3]/']
    const ids = await Promise.all(urls.map((url) => insertDelivery(db.pg, seeded, { url })))
    expect((await dispatcher().runOnce()).outcomes.refused).toBe(urls.length)
    for (const id of ids) expect(await deliveryState(db.pg, id)).toMatchObject({ status: 'failed', attempts: 1 })
    expect((await deliveryState(db.pg, ids[0]!)).last_error).toBe('10.1.2.3, which is private: not allowed as a webhook destination')
    expect(asked).toEqual([])
    expect(connected).toEqual([])
  })

  it('delivers to the same receiver once the guard is told to allow private destinations', async () => {
    const r = await listen((_req, res) => res.end())
    const id = await insertDelivery(db.pg, seeded, { url: `http://hooks.example.test:${r.port}/hook` })
    expect((await dispatcher({ config: { ...webhooks, allowPrivate: true } }).runOnce()).outcomes.succeeded).toBe(1)
    expect(await deliveryState(db.pg, id)).toMatchObject({ status: 'succeeded', attempts: 1 })
    expect(connected).toEqual(['127.0.0.1'])
    expect(r.received[0]!.headers.host).toBe(`hooks.example.test:${r.port}`)
  })
})
