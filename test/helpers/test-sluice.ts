/**
 * Brings a whole Sluice up inside a test, on the real services of test/global-setup.ts, isolated
 * from every other test by its own topics and consumer group (and projects made per test).
 *
 *   const sluice = await startTestSluice()
 *   const project = await sluice.createProject()
 *   await sluice.post('/ingest', { key: project.ingest_key, body: { events } })
 *   await sluice.waitUntilProcessed()
 */
import { randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { loadConfig, type Config, type Role } from '../../lib/config.ts'
import { startSluice } from '../../server.ts'
import { testServices } from './services.ts'

export const ADMIN_TOKEN = 'test-admin-token-0123456789'

// chdb allows one data directory per process; vitest runs each test file in its own process.
const CHDB_PATH = `.sluice/test-chdb/${process.pid}`

export interface TestProject {
  id: string
  name: string
  ingest_key: string
  query_key: string
}

export interface HttpResult<T = unknown> {
  status: number
  headers: Headers
  body: T
}

export interface RequestOptions {
  key?: string
  body?: unknown
  rawBody?: Buffer | string
  headers?: Record<string, string>
  gzip?: boolean
}

/** The environment a test Sluice runs with: real services, fresh topics and group. */
export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const s = testServices()
  const id = randomUUID().slice(0, 8)
  mkdirSync('.sluice/test-chdb', { recursive: true })
  return {
    KAFKA_BROKERS: s.kafkaBrokers.join(','),
    DATABASE_URL: s.databaseUrl,
    REDIS_URL: s.redisUrl,
    ...(s.clickhouseUrl ? { CLICKHOUSE_URL: s.clickhouseUrl } : { SLUICE_CHDB_PATH: CHDB_PATH }),
    CLICKHOUSE_DATABASE: 'sluice_test',
    SLUICE_TOPIC_EVENTS: `test.events.${id}`,
    SLUICE_TOPIC_DEAD_LETTER: `test.events.${id}.dlq`,
    SLUICE_TOPIC_PARTITIONS: '3',
    SLUICE_RUNS_FUNNEL_GROUP: `test-runs-funnel-${id}`,
    SLUICE_LOGS_GROUP: `test-logs-${id}`,
    SLUICE_REACTIONS_GROUP: `test-reactions-${id}`,
    SLUICE_ADMIN_TOKEN: ADMIN_TOKEN,
    // Every test Sluice shares one Postgres, so any one's dispatcher may deliver another's webhook:
    // all of them may reach the tests' loopback receivers, and retry fast.
    SLUICE_WEBHOOK_ALLOW_PRIVATE: 'true',
    SLUICE_WEBHOOK_BACKOFF_BASE_MS: '50',
    SLUICE_WEBHOOK_BACKOFF_MAX_MS: '500',
    SLUICE_DISPATCHER_POLL_MS: '100',
    // A SIGKILLed consumer is noticed after this; the broker's minimum is 6 s.
    SLUICE_CONSUMER_SESSION_TIMEOUT_MS: '6000',
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.SLUICE_TEST_LOG_LEVEL ?? 'silent',
    ...overrides,
  }
}

export async function startTestSluice(options: { roles?: Role[]; env?: Record<string, string> } = {}) {
  const config: Config = loadConfig(testEnv(options.env), options.roles ? { roles: options.roles } : {})
  const running = await startSluice(config)
  return sluiceClient(running.url, config, () => running.close())
}

/** An HTTP client for a Sluice at `url` (in this process or a child process). */
export function sluiceClient(url: string, config: Config, close: () => Promise<void> = async () => {}) {
  async function request<T = unknown>(method: string, path: string, o: RequestOptions = {}): Promise<HttpResult<T>> {
    const headers: Record<string, string> = { ...o.headers }
    if (o.key) headers.authorization = `Bearer ${o.key}`
    let body: Buffer | string | undefined = o.rawBody
    if (o.body !== undefined) {
      body = JSON.stringify(o.body)
      headers['content-type'] ??= 'application/json'
    }
    if (o.gzip && body !== undefined) {
      body = gzipSync(body)
      headers['content-encoding'] = 'gzip'
    }
    const res = await fetch(`${url}${path}`, { method, headers, body: typeof body === 'string' || body === undefined ? body : new Uint8Array(body) })
    const text = await res.text()
    let parsed: unknown = text
    try {
      parsed = JSON.parse(text)
    } catch {
      // not JSON (e.g. /metrics)
    }
    return { status: res.status, headers: res.headers, body: parsed as T }
  }

  return {
    url,
    config,
    close,
    request,
    get: <T = unknown>(path: string, o?: RequestOptions) => request<T>('GET', path, o),
    post: <T = unknown>(path: string, o?: RequestOptions) => request<T>('POST', path, o),

    async createProject(name = `project-${randomUUID().slice(0, 8)}`): Promise<TestProject> {
      const res = await request<TestProject>('POST', '/api/projects', { key: ADMIN_TOKEN, body: { name } })
      if (res.status !== 201) throw new Error(`createProject: ${res.status} ${JSON.stringify(res.body)}`)
      return res.body
    },

    /** Waits until every consumer group has processed everything acknowledged (lag 0 everywhere). */
    async waitUntilProcessed(timeoutMs = 60_000): Promise<void> {
      const deadline = Date.now() + timeoutMs
      let last: unknown
      while (Date.now() < deadline) {
        const res = await request<Array<{ lag: number }>>('GET', '/api/ops/lag', { key: ADMIN_TOKEN })
        last = res.body
        if (res.status === 200 && res.body.length > 0 && res.body.every((r) => r.lag === 0)) return
        await new Promise((r) => setTimeout(r, 200))
      }
      throw new Error(`not processed within ${timeoutMs} ms: ${JSON.stringify(last)}`)
    },
  }
}

export type TestSluice = ReturnType<typeof sluiceClient>
