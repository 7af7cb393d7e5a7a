/**
 * The all-in-one server's app (every role's routes plus the operations and docs routes), built on
 * the real services and not listening: for the tests that compare the registered routes with a
 * document (`app.sluiceRoutes`).
 */
import type { FastifyInstance } from 'fastify'
import { ingestRoutes } from '../../ingest/app.ts'
import { loadConfig } from '../../lib/config.ts'
import { createRoleApp } from '../../lib/http/create-role-app.ts'
import { createLogger } from '../../lib/logger.ts'
import { createMetrics } from '../../lib/metrics.ts'
import { closeServices, connectServices } from '../../lib/services.ts'
import { queryRoutes } from '../../query-api/app.ts'
import { testEnv } from './test-sluice.ts'

export async function buildAllRoutesApp(): Promise<{ app: FastifyInstance; close(): Promise<void> }> {
  const services = await connectServices(loadConfig(testEnv()), { logger: createLogger({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }) })
  const app = await createRoleApp(services, [ingestRoutes, queryRoutes])
  return {
    app,
    async close() {
      await app.close()
      await closeServices(services)
    },
  }
}
