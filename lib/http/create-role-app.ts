import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { authPlugin } from '../auth/auth-plugin.ts'
import { consumerGroups } from '../../processors/registry.ts'
import type { ProcessorLiveness } from '../../processors/start-consumer-group.ts'
import type { Services } from '../services.ts'
import { createHttpApp } from './create-http-app.ts'
import { deadLetterRoutes } from './dead-letter-routes.ts'
import { docsRoutes } from './docs-routes.ts'
import { opsRoutes } from './ops-routes.ts'

export type RoutePlugin = FastifyPluginAsync<{ services: Services }>

/**
 * An HTTP app with auth and the operations routes, plus the given roles' routes. Built, not
 * started: the caller listens (server.ts) or injects (tests).
 */
export async function createRoleApp(
  services: Services,
  routes: readonly RoutePlugin[],
  options: { processorLiveness?: () => readonly ProcessorLiveness[] } = {},
): Promise<FastifyInstance> {
  const app = createHttpApp({
    logger: services.logger,
    metrics: services.metrics,
    bodyLimit: services.config.limits.maxBodyBytes,
    corsOrigins: services.config.corsOrigins,
  })
  // First: its onRoute hook documents every route registered after it.
  await app.register(docsRoutes)
  await app.register(authPlugin, { resolveKey: services.resolveKey, adminToken: services.config.adminToken })
  await app.register(opsRoutes, {
    services,
    consumerGroups: consumerGroups(services.config),
    processorLiveness: options.processorLiveness ?? (() => []),
  })
  await app.register(deadLetterRoutes, { services })
  for (const plugin of routes) await app.register(plugin, { services })
  await app.ready()
  return app
}
