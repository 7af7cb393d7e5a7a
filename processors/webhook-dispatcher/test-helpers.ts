/**
 * For this folder's tests only: a loopback webhook receiver, a Postgres database of the test file's
 * own (the dispatcher claims every due delivery it can see, so a shared database would let it
 * pick up, and send, other tests' deliveries), and rows to deliver.
 */
import { randomUUID } from 'node:crypto'
import http, { type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { testServices } from '../../test/helpers/services.ts'
import { createLogger } from '../../lib/logger.ts'
import { runMigrations } from '../../lib/migrate.ts'
import { createPgPool, type PgPool } from '../../lib/postgres.ts'
import { connectPinned, type PinnedConnect } from './send-webhook.ts'
import type { LookupAll, ResolvedAddress } from './ssrf-guard.ts'

export interface ReceivedRequest {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: string
}

export interface Receiver {
  port: number
  url(path?: string): string
  received: ReceivedRequest[]
  /** TCP connections accepted, requests or not. */
  readonly connections: number
  close(): Promise<void>
}

/** An HTTP server on 127.0.0.1:0; `handle` answers each request (or never does). */
export async function startReceiver(handle: (req: ReceivedRequest, res: ServerResponse, index: number) => void): Promise<Receiver> {
  const received: ReceivedRequest[] = []
  let connections = 0
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const r = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }
      received.push(r)
      handle(r, res, received.length - 1)
    })
  })
  server.on('connection', () => {
    connections += 1
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    port,
    url: (path = '/hook') => `http://127.0.0.1:${port}${path}`,
    received,
    get connections() {
      return connections
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Lookup from a fixed table; any other name fails as unknown, so no test ever asks real DNS. */
export function fakeLookup(table: Record<string, string[]>, asked: string[] = []): LookupAll {
  return async (hostname) => {
    asked.push(hostname)
    const addresses = table[hostname]
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })
    return addresses.map((address): ResolvedAddress => ({ address, family: address.includes(':') ? 6 : 4 }))
  }
}

/**
 * Records every address a request was about to connect to, and refuses (throws) anything but
 * 127.0.0.1: even a broken guard cannot make a test reach another host.
 */
export function loopbackOnlyConnect(connected: string[]): PinnedConnect {
  return (destination) => {
    connected.push(destination.address)
    if (destination.address !== '127.0.0.1') throw new Error(`test refused to connect to ${destination.address}`)
    return connectPinned(destination)
  }
}

export interface TestDatabase {
  pg: PgPool
  /** Its connection URL, for a second pool (e.g. through a proxy). */
  url: string
  drop(): Promise<void>
}

/** A fresh, migrated database for one test file. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const admin = createPgPool({ url: testServices().databaseUrl, max: 1 })
  const name = `sluice_webhooks_${randomUUID().replaceAll('-', '').slice(0, 12)}`
  await admin.query(`CREATE DATABASE ${name}`)
  const url = new URL(testServices().databaseUrl)
  url.pathname = `/${name}`
  const pg = createPgPool({ url: url.toString() })
  await runMigrations({ pg, clickhouse: undefined, clickhouseDatabase: 'x', logger: createLogger({ level: 'silent' }) })
  return {
    pg,
    url: url.toString(),
    async drop() {
      await pg.end()
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await admin.end()
    },
  }
}

export interface Seeded {
  projectId: string
  complaintId: string
  reactionId: string
}

/** A project and an open complaint to hang deliveries on. */
export async function seedComplaint(pg: PgPool): Promise<Seeded> {
  const projectId = randomUUID()
  const complaintId = randomUUID()
  const reactionId = randomUUID()
  await pg.query('INSERT INTO projects (id, name) VALUES ($1, $2)', [projectId, 'webhook tests'])
  await pg.query(
    `INSERT INTO complaints (id, project_id, reaction_id, fingerprint, title, severity, occurrences, first_seen_at, last_seen_at)
     VALUES ($1, $2, $3, $4, 'Too many errors', 'error', 3, now(), now())`,
    [complaintId, projectId, reactionId, randomUUID()],
  )
  return { projectId, complaintId, reactionId }
}

export interface DeliveryInput {
  url: string
  secret?: string
  body?: string
  /** Seconds from now; negative for overdue. */
  dueInSeconds?: number
}

/** A pending delivery as the reaction processor would write it; returns its id. */
export async function insertDelivery(pg: PgPool, seeded: Seeded, input: DeliveryInput): Promise<string> {
  const id = randomUUID()
  const body =
    input.body ??
    JSON.stringify({ event: 'complaint.created', complaint: { id: seeded.complaintId }, reaction: { id: seeded.reactionId, name: 'r' }, project_id: seeded.projectId })
  await pg.query(
    `INSERT INTO deliveries (id, project_id, complaint_id, reaction_id, action, url, secret, event, body, next_attempt_at)
     VALUES ($1, $2, $3, $4, 'webhook', $5, $6, 'complaint.created', $7, now() + $8 * interval '1 second')`,
    [id, seeded.projectId, seeded.complaintId, seeded.reactionId, input.url, input.secret ?? 'whsec_test', body, input.dueInSeconds ?? 0],
  )
  return id
}

export interface DeliveryState {
  status: string
  attempts: number
  last_status_code: number | null
  last_error: string | null
  next_attempt_at: Date
  lease_owner: string | null
}

export async function deliveryState(pg: PgPool, id: string): Promise<DeliveryState> {
  const { rows } = await pg.query<DeliveryState>(
    'SELECT status, attempts, last_status_code, last_error, next_attempt_at, lease_owner FROM deliveries WHERE id = $1',
    [id],
  )
  return rows[0]!
}

export async function attemptsOf(pg: PgPool, id: string): Promise<Array<{ attempt: number; status_code: number | null; error: string | null }>> {
  const { rows } = await pg.query<{ attempt: number; status_code: number | null; error: string | null }>(
    'SELECT attempt, status_code, error FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt',
    [id],
  )
  return rows
}

/** Polls `check` until it returns true, or fails after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
