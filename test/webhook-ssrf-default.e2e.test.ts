/**
 * The SSRF guard in its production wiring: a Sluice with the default configuration (no
 * SLUICE_WEBHOOK_ALLOW_PRIVATE) refuses a webhook to a loopback address, end to end through the
 * reactions processor, the outbox and the dispatcher, and the receiver sees no connection at all.
 *
 * It runs on a Postgres database of its own: every other test Sluice allows private addresses (their
 * receivers listen on 127.0.0.1) and shares one outbox, which a guarded dispatcher must not drain.
 */
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { createPgPool } from '../lib/postgres.ts'
import { testServices } from './helpers/services.ts'
import { startTestSluice, type TestSluice } from './helpers/test-sluice.ts'

describe('webhooks to private addresses, default configuration', () => {
  const dbName = `sluice_ssrf_${randomUUID().replaceAll('-', '').slice(0, 12)}`
  const admin = createPgPool({ url: testServices().databaseUrl })
  let sluice: TestSluice | undefined

  afterAll(async () => {
    await sluice?.close()
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {})
    await admin.end()
  })

  it('refuses a loopback receiver without connecting to it, and records why', async () => {
    await admin.query(`CREATE DATABASE ${dbName}`)
    const url = new URL(testServices().databaseUrl)
    url.pathname = `/${dbName}`
    // Not the tests' default (private allowed): this Sluice runs as it would in production.
    sluice = await startTestSluice({ env: { DATABASE_URL: url.toString(), SLUICE_WEBHOOK_ALLOW_PRIVATE: 'false' } })
    let connections = 0
    const receiver = createServer((socket) => {
      connections++
      socket.destroy()
    })
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
    try {
      const project = await sluice.createProject()
      const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`
      const rule = await sluice.post<{ id: string }>('/api/reactions', {
        key: project.query_key,
        body: { name: 'errors', event_type: 'log', conditions: [{ field: 'level', op: 'eq', value: 'error' }], actions: [{ type: 'webhook', url: hook }] },
      })
      expect(rule.status).toBe(201)
      const res = await sluice.post('/ingest', { key: project.ingest_key, body: { events: [{ type: 'log', data: { level: 'error', message: 'boom' } }] } })
      expect(res.status).toBe(200)
      await sluice.waitUntilProcessed()
      const [complaint] = (await sluice.get<Array<{ id: string }>>(`/api/complaints/${project.id}`, { key: project.query_key })).body
      expect(complaint).toBeDefined()
      const deadline = Date.now() + 20_000
      let deliveries: Array<{ status: string; attempts: number; last_error: string | null; last_status_code: number | null }> = []
      while (Date.now() < deadline) {
        deliveries = (await sluice.get<typeof deliveries>(`/api/complaints/${complaint!.id}/deliveries`, { key: project.query_key })).body
        if (deliveries[0]?.status === 'failed') break
        await new Promise((r) => setTimeout(r, 100))
      }
      expect(deliveries).toHaveLength(1)
      expect(deliveries[0]).toMatchObject({ status: 'failed', attempts: 1, last_status_code: null })
      expect(deliveries[0]!.last_error).toMatch(/private|loopback|refused|not allowed/i)
      expect(connections).toBe(0)
    } finally {
      await new Promise((r) => receiver.close(r))
    }
  })
})
