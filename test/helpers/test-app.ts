/**
 * One Sluice HTTP app built (not started) on the real services, for `app.inject()` or a listener
 * on port 0, with what it logged at hand:
 *
 *   const t = await buildTestApp({ roles: ['ingest', 'query'] })
 *   const res = await t.app.inject({ method: 'GET', url: '/health' })
 *   expect(t.logs()).not.toContain(secret)
 *   await t.close()
 */
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { ingestRoutes } from '../../ingest/app.ts'
import { loadConfig, type Role } from '../../lib/config.ts'
import { createRoleApp, type RoutePlugin } from '../../lib/http/create-role-app.ts'
import { createLogger } from '../../lib/logger.ts'
import { createMetrics } from '../../lib/metrics.ts'
import { closeServices, connectServices, type Services } from '../../lib/services.ts'
import { queryRoutes } from '../../query-api/app.ts'
import { testEnv } from './test-sluice.ts'

export interface TestApp {
  app: FastifyInstance
  services: Services
  /** Every log line so far, as written (JSON lines). */
  logs(): string
  close(): Promise<void>
}

export async function buildTestApp(options: { roles: Role[]; env?: Record<string, string> }): Promise<TestApp> {
  const config = loadConfig(testEnv({ LOG_LEVEL: 'debug', ...options.env }), { roles: options.roles })
  const chunks: string[] = []
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString('utf8'))
      done()
    },
  })
  const logger = createLogger({ level: config.logLevel, destination })
  const services = await connectServices(config, { logger, metrics: createMetrics({ defaultMetrics: false }) })
  const routes: RoutePlugin[] = []
  if (options.roles.includes('ingest')) routes.push(ingestRoutes)
  if (options.roles.includes('query')) routes.push(queryRoutes)
  const app = await createRoleApp(services, routes)
  return {
    app,
    services,
    logs: () => chunks.join(''),
    async close() {
      await app.close()
      await closeServices(services)
    },
  }
}
