import { afterAll, describe, expect, it } from 'vitest'
import type { Config } from '../../lib/config.ts'
import { createLogger } from '../../lib/logger.ts'
import { createMetrics } from '../../lib/metrics.ts'
import { createPgPool } from '../../lib/postgres.ts'
import { startTcpProxy, type TcpProxy } from '../../test/helpers/tcp-proxy.ts'
import { attemptsOf, createTestDatabase, deliveryState, insertDelivery, seedComplaint, startReceiver, waitFor, type Receiver, type TestDatabase } from './test-helpers.ts'
import { createWebhookDispatcher } from './webhook-dispatcher.ts'

// Issue "reliability": Postgres going away between a webhook's send and the record of its outcome
// must not make the dispatcher send it again when Postgres is back (nor lose the outcome). Postgres
// is cut off for real, through a TCP proxy in front of the shared server.
const webhooks: Config['webhooks'] = { allowPrivate: true, timeoutMs: 1_000, maxAttempts: 8, pollIntervalMs: 50, backoffBaseMs: 1_000, backoffMaxMs: 600_000 }

describe('webhook dispatcher when Postgres goes away mid-delivery', () => {
  let db: TestDatabase
  let proxy: TcpProxy
  let receiver: Receiver | undefined
  const stops: Array<() => Promise<void>> = []

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {})
    await receiver?.close()
    await proxy?.close()
    await db?.drop()
  })

  it('sends once, keeps the outcome, and records it when Postgres answers again', async () => {
    db = await createTestDatabase()
    const seeded = await seedComplaint(db.pg)
    const direct = new URL(db.url)
    proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port) })
    const viaProxy = createPgPool({ url: proxy.url(db.url), max: 2 })
    viaProxy.on('error', () => {})
    stops.push(() => viaProxy.end())
    // The receiver takes the webhook, then Postgres goes away before the dispatcher can record it.
    receiver = await startReceiver((_req, res) => {
      void proxy.down().then(() => res.writeHead(200).end('ok'))
    })
    const id = await insertDelivery(db.pg, seeded, { url: receiver.url() })
    // A short lease, so it expires while Postgres is gone and the delivery becomes claimable again.
    const dispatcher = createWebhookDispatcher({ pg: viaProxy, config: webhooks, metrics: createMetrics({ defaultMetrics: false }), logger: createLogger({ level: 'silent' }), leaseMs: 500 })
    dispatcher.start()
    stops.push(() => dispatcher.stop())

    await waitFor(async () => receiver!.received.length > 0)
    await new Promise((r) => setTimeout(r, 2_000))
    expect(await deliveryState(db.pg, id)).toMatchObject({ status: 'pending', attempts: 0 })
    await proxy.up()

    await waitFor(async () => (await deliveryState(db.pg, id)).status === 'succeeded', 20_000)
    // Time for a second send, had the dispatcher taken the expired lease as a reason to send again.
    await dispatcher.stop()
    expect(receiver.received).toHaveLength(1)
    expect(await deliveryState(db.pg, id)).toMatchObject({ status: 'succeeded', attempts: 1, last_status_code: 200 })
    expect(await attemptsOf(db.pg, id)).toEqual([{ attempt: 1, status_code: 200, error: null }])
  })
})
