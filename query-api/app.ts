import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { createRoleApp } from '../lib/http/create-role-app.ts'
import type { Services } from '../lib/services.ts'
import { createFunnelReader } from './funnel-reader.ts'
import { createRunReader } from './run-reader.ts'
import { analyzeRoute } from './routes/analyze-route.ts'
import { pipelinesRoute } from './routes/pipelines-route.ts'
import { runsRoutes } from './routes/runs-routes.ts'

/** The query role's routes: runs, steps, run analysis and pipeline funnels, read from ClickHouse. */
export const queryRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  const runs = createRunReader({ client: services.clickhouse, tables: services.tables })
  const funnels = createFunnelReader({ client: services.clickhouse, tables: services.tables })
  await app.register(runsRoutes, { runs })
  await app.register(analyzeRoute, { runs })
  await app.register(pipelinesRoute, { funnels })
}

/** The query role alone, built and ready, not listening. */
export function build(services: Services): Promise<FastifyInstance> {
  return createRoleApp(services, [queryRoutes])
}
