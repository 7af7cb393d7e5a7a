import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import type { Services } from '../lib/services.ts'
import { createRoleApp } from '../lib/http/create-role-app.ts'
import { createBatchAcceptor } from './batch-acceptor.ts'
import { INGEST_ROUTES, ingestOutcome } from './ingest-outcome.ts'
import { registerJsonBodyParser } from './json-body-parser.ts'
import { createRateLimiter } from './rate-limiter.ts'
import { ingestRoute } from './routes/ingest-route.ts'
import { logsRoute } from './routes/logs-route.ts'
import { createApiKeyStore } from '../lib/auth/api-key-store.ts'
import { createProjectStore } from './project-store.ts'
import { createCursorCodec, cursorKey } from '../query-api/cursor-codec.ts'
import { keysRoutes } from './routes/keys-routes.ts'
import { projectsRoute } from './routes/projects-route.ts'

/**
 * The ingest role's routes: `POST /ingest`, `POST /api/logs`, and the admin's projects and keys. Register on an app made by
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
  app.addHook('onResponse', async (request, reply) => {
    if (INGEST_ROUTES.has(`${request.method} ${request.routeOptions.url}`)) metrics.ingestRequests.inc({ outcome: ingestOutcome(reply.statusCode) })
  })
  await app.register(ingestRoute, { accept })
  await app.register(logsRoute, { accept })
  const projects = createProjectStore(services.pg)
  const keys = createApiKeyStore(services.pg)
  const cursors = createCursorCodec(cursorKey(config.adminToken))
  await app.register(projectsRoute, { pg: services.pg, projects, keys, cursors })
  await app.register(keysRoutes, { pg: services.pg, projects, keys, resolveKey: services.resolveKey, cursors })
}


/** The ingest role alone, built and ready, not listening. */
export function build(services: Services): Promise<FastifyInstance> {
  return createRoleApp(services, [ingestRoutes])
}
