import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createDeliveryStore, type DeliveryStore } from './delivery-store.ts'
import { attemptsOf, createTestDatabase, deliveryState, insertDelivery, seedComplaint, type Seeded, type TestDatabase } from './test-helpers.ts'

describe('delivery store (Postgres)', () => {
  let db: TestDatabase
  let store: DeliveryStore
  let seeded: Seeded
  const url = 'http://127.0.0.1:9/never-called'

  beforeAll(async () => {
    db = await createTestDatabase()
    store = createDeliveryStore({ pg: db.pg })
    seeded = await seedComplaint(db.pg)
  })
  afterAll(async () => {
    await db?.drop()
  })
  beforeEach(async () => {
    await db.pg.query('DELETE FROM deliveries')
  })

  it('claims only due pending rows, oldest first, and leases them', async () => {
    const older = await insertDelivery(db.pg, seeded, { url, dueInSeconds: -60 })
    const due = await insertDelivery(db.pg, seeded, { url, dueInSeconds: -1 })
    await insertDelivery(db.pg, seeded, { url, dueInSeconds: 3_600 })
    const done = await insertDelivery(db.pg, seeded, { url, dueInSeconds: -5 })
    await db.pg.query(`UPDATE deliveries SET status = 'succeeded' WHERE id = $1`, [done])

    const claimed = await store.claimDue('a', 10, 60_000)
    expect(claimed.map((c) => c.id)).toEqual([older, due])
    expect(claimed[0]).toMatchObject({ projectId: seeded.projectId, complaintId: seeded.complaintId, url, secret: 'whsec_test', attempts: 0 })
    expect((await deliveryState(db.pg, older)).lease_owner).toBe('a')
    expect(await store.claimDue('b', 10, 60_000)).toEqual([])
  })

  it('never hands one delivery to two concurrent claimers', async () => {
    const ids = await Promise.all(Array.from({ length: 40 }, () => insertDelivery(db.pg, seeded, { url, dueInSeconds: -1 })))
    const batches = await Promise.all(Array.from({ length: 8 }, (_, i) => store.claimDue(`owner-${i}`, 7, 60_000)))
    const claimed = batches.flat().map((c) => c.id)
    expect(new Set(claimed).size).toBe(claimed.length)
    expect(claimed.length).toBe(40)
    expect(new Set(claimed)).toEqual(new Set(ids))
  })

  it('records an attempt and releases the lease in one step; a lost lease records nothing', async () => {
    const id = await insertDelivery(db.pg, seeded, { url, dueInSeconds: -1 })
    await store.claimDue('a', 1, 60_000)
    // a's lease expires mid-send and b takes the delivery over.
    await db.pg.query(`UPDATE deliveries SET lease_until = now() - interval '1 second' WHERE id = $1`, [id])
    const [taken] = await store.claimDue('b', 1, 60_000)
    expect(taken?.id).toBe(id)

    const attempt = { deliveryId: id, attempt: 1, startedAt: new Date(), durationMs: 12, statusCode: 503, error: 'HTTP 503', status: 'pending' as const, retryInMs: 60_000 }
    expect(await store.recordAttempt('a', attempt)).toBe(false)
    expect(await attemptsOf(db.pg, id)).toEqual([])

    expect(await store.recordAttempt('b', attempt)).toBe(true)
    const state = await deliveryState(db.pg, id)
    expect(state).toMatchObject({ status: 'pending', attempts: 1, last_status_code: 503, last_error: 'HTTP 503', lease_owner: null })
    expect(state.next_attempt_at.getTime()).toBeGreaterThan(Date.now() + 50_000)
    expect(await attemptsOf(db.pg, id)).toEqual([{ attempt: 1, status_code: 503, error: 'HTTP 503' }])
    // Recorded once: the same attempt again (a duplicate record) finds no lease.
    expect(await store.recordAttempt('b', attempt)).toBe(false)
  })

  it('reports the age of the oldest due pending delivery as the lag', async () => {
    expect(await store.dispatcherLagSeconds()).toBe(0)
    await insertDelivery(db.pg, seeded, { url, dueInSeconds: 3_600 })
    expect(await store.dispatcherLagSeconds()).toBe(0)
    const id = await insertDelivery(db.pg, seeded, { url, dueInSeconds: -30 })
    await insertDelivery(db.pg, seeded, { url, dueInSeconds: -2 })
    const lag = await store.dispatcherLagSeconds()
    expect(lag).toBeGreaterThanOrEqual(30)
    expect(lag).toBeLessThan(40)
    await db.pg.query(`UPDATE deliveries SET status = 'failed' WHERE id = $1`, [id])
    expect(await store.dispatcherLagSeconds()).toBeLessThan(10)
  })
})
