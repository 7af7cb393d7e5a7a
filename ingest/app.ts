import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import type { Services } from '../lib/services.ts'
import { createRoleApp } from '../lib/http/create-role-app.ts'
import { createBatchAcceptor } from './batch-acceptor.ts'
import { registerJsonBodyParser } from './json-body-parser.ts'
import { createRateLimiter } from './rate-limiter.ts'
import { ingestRoute } from './routes/ingest-route.ts'
import { logsRoute } from './routes/logs-route.ts'
import { projectsRoute } from './routes/projects-route.ts'

/**
 * The ingest role's routes: `POST /ingest`, `POST /api/logs` and `POST /api/projects`. Register on an app made by
 * `createHttpApp` with the auth plugin (see `build` and server.ts).
 *
 * @example
 *   const app = createHttpApp(...); await app.register(authPlugin, ...)
 *   await app.register(ingestRoutes, { services })
 */
export const ingestRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  const { config, metrics, logger } = services
  registerJsonBodyParser(app, {
    maxBodyBytes: config.limits.maxBodyBytes,
    maxDecompressedBytes: config.limits.maxDecompressedBytes,
  })
  const accept = createBatchAcceptor({
    codec: services.codec,
    producer: services.producer,
    topic: config.kafka.eventsTopic,
    maxBatchEvents: config.limits.maxBatchEvents,
    maxEventBytes: config.limits.maxEventBytes,
    rateLimiter: createRateLimiter({ redis: services.redis, eventsPerSecond: config.limits.rateLimitEventsPerSecond, metrics, logger }),
    metrics,
    logger,
  })
  await app.register(ingestRoute, { accept })
  await app.register(logsRoute, { accept })
  await app.register(projectsRoute, { pg: services.pg })
}


/** The ingest role alone, built and ready, not listening. */
export function build(services: Services): Promise<FastifyInstance> {
  return createRoleApp(services, [ingestRoutes])
}
