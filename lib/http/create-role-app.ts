import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { authPlugin } from '../auth/auth-plugin.ts'
import type { Config } from '../config.ts'
import type { Services } from '../services.ts'
import { createHttpApp } from './create-http-app.ts'
import { docsRoutes } from './docs-routes.ts'
import { opsRoutes } from './ops-routes.ts'

export type RoutePlugin = FastifyPluginAsync<{ services: Services }>

/** Every consumer group a Sluice deployment runs, for lag reporting. */
export function sluiceConsumerGroups(config: Config) {
  const topics = [config.kafka.eventsTopic]
  return [config.processor.runsFunnelGroup, config.processor.logsGroup, config.processor.reactionsGroup].map((group) => ({ group, topics }))
}

/**
 * An HTTP app with auth and the operations routes, plus the given roles' routes. Built, not
 * started: the caller listens (server.ts) or injects (tests).
 */
export async function createRoleApp(services: Services, routes: readonly RoutePlugin[]): Promise<FastifyInstance> {
  const app = createHttpApp({ logger: services.logger, metrics: services.metrics, bodyLimit: services.config.limits.maxBodyBytes, corsOrigins: services.config.corsOrigins })
  await app.register(authPlugin, { resolveKey: services.resolveKey, adminToken: services.config.adminToken })
  await app.register(opsRoutes, { services, consumerGroups: sluiceConsumerGroups(services.config) })
  await app.register(docsRoutes)
  for (const plugin of routes) await app.register(plugin, { services })
  await app.ready()
  return app
}
