/**
 * What the property tests share: an app with every HTTP route on the real services (injected, not
 * listening), a project, the number of cases, and the property itself (no 500, no hang).
 *
 *   const target = await startPropertyApp()
 *   await fc.assert(fc.asyncProperty(arb, (x) => target.expectSane(x)), { numRuns: propertyRuns(300) })
 *
 * `npm test` runs each entry point a few hundred times; `npm run test:props` sets
 * SLUICE_PROPERTY_RUNS (10,000 by default there) for the long run.
 */
import type { FastifyInstance, InjectOptions } from 'fastify'
import { ingestRoutes } from '../../ingest/app.ts'
import { loadConfig } from '../../lib/config.ts'
import { createRoleApp } from '../../lib/http/create-role-app.ts'
import { createLogger } from '../../lib/logger.ts'
import { createMetrics } from '../../lib/metrics.ts'
import { closeServices, connectServices } from '../../lib/services.ts'
import { queryRoutes } from '../../query-api/app.ts'
import { ADMIN_TOKEN, testEnv, type TestProject } from './test-sluice.ts'

const HANG_MS = 10_000

/** Cases per entry point: SLUICE_PROPERTY_RUNS when set, else `fallback`. */
export function propertyRuns(fallback: number): number {
  const n = Number(process.env.SLUICE_PROPERTY_RUNS)
  return Number.isInteger(n) && n > 0 ? n : fallback
}

export async function startPropertyApp() {
  // The rate limit is raised so that valid batches reach the broker rather than a 429.
  const config = loadConfig(testEnv({ SLUICE_RATE_LIMIT_EVENTS_PER_SECOND: '100000000' }))
  const services = await connectServices(config, { logger: createLogger({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }) })
  const app: FastifyInstance = await createRoleApp(services, [ingestRoutes, queryRoutes])
  const created = await app.inject({ method: 'POST', url: '/api/projects', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { name: 'properties' } })
  const project = created.json<TestProject>()

  // Statuses seen, by route: a property that only ever met 400s would prove little.
  const statuses = new Map<string, Map<number, number>>()

  /** Injects, failing on a 5xx or on no answer within HANG_MS; returns the response. */
  async function expectSane(options: InjectOptions) {
    let timer: NodeJS.Timeout | undefined
    const hang = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${HANG_MS} ms`)), HANG_MS)
    })
    try {
      const res = await Promise.race([app.inject(options), hang])
      const route = `${options.method} ${String(options.url).split('?')[0]}`
      const seen = statuses.get(route) ?? new Map<number, number>()
      statuses.set(route, seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1))
      if (res.statusCode >= 500) throw new Error(`${res.statusCode} for ${options.method} ${String(options.url).slice(0, 300)}: ${res.body.slice(0, 300)}`)
      const body = res.body === '' ? null : (res.json() as { code?: unknown } | unknown[])
      if (res.statusCode >= 400 && !(body && !Array.isArray(body) && typeof body.code === 'string' && body.code.startsWith('SLUICE_ERR_'))) {
        throw new Error(`${res.statusCode} without a Sluice code: ${res.body.slice(0, 300)}`)
      }
      return res
    } finally {
      clearTimeout(timer)
    }
  }

  /** The server still answers and still takes a good batch. */
  async function expectHealthy() {
    const health = await app.inject({ method: 'GET', url: '/health' })
    const good = await app.inject({
      method: 'POST',
      url: '/api/logs',
      headers: { authorization: `Bearer ${project.ingest_key}` },
      payload: { level: 'info', message: 'still here' },
    })
    return [health.statusCode, good.statusCode]
  }

  return {
    app,
    project,
    config,
    expectSane,
    expectHealthy,
    /** The statuses `route` ("POST /ingest") answered so far. */
    statusesOf: (route: string) => [...(statuses.get(route)?.keys() ?? [])].sort(),
    async close() {
      await app.close()
      await closeServices(services)
    },
  }
}
