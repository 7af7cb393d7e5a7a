import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { createRoleApp } from '../lib/http/create-role-app.ts'
import type { Services } from '../lib/services.ts'
import { createReactionStore } from '../lib/reactions/reaction-store.ts'
import { createComplaintStore } from './complaint-store.ts'
import { createCursorCodec, cursorKey } from './cursor-codec.ts'
import { createFunnelReader } from './funnel-reader.ts'
import { createLogReader } from './log-reader.ts'
import { createRunReader } from './run-reader.ts'
import { createAuditStore } from '../lib/audit/audit-store.ts'
import { auditRoutes } from './routes/audit-routes.ts'
import { analyzeRoute } from './routes/analyze-route.ts'
import { complaintsRoutes } from './routes/complaints-routes.ts'
import { logsRoutes } from './routes/logs-routes.ts'
import { pipelinesRoute } from './routes/pipelines-route.ts'
import { reactionsRoutes } from './routes/reactions-routes.ts'
import { runsRoutes } from './routes/runs-routes.ts'

/** The query role's routes: runs, steps, funnels and logs (ClickHouse); reactions, complaints and the audit log (Postgres). */
export const queryRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  const cursors = createCursorCodec(cursorKey(services.config.adminToken))
  const runs = createRunReader({ client: services.clickhouse, tables: services.tables })
  const funnels = createFunnelReader({ client: services.clickhouse, tables: services.tables })
  await app.register(runsRoutes, { runs, cursors })
  await app.register(analyzeRoute, { runs })
  await app.register(pipelinesRoute, { funnels })
  await app.register(logsRoutes, { logs: createLogReader({ client: services.clickhouse, tables: services.tables }), cursors })
  await app.register(reactionsRoutes, { reactions: createReactionStore(services.pg), cursors })
  await app.register(complaintsRoutes, { complaints: createComplaintStore(services.pg), cursors })
  await app.register(auditRoutes, { audit: createAuditStore(services.pg), cursors })
}

/** The query role alone, built and ready, not listening. */
export function build(services: Services): Promise<FastifyInstance> {
  return createRoleApp(services, [queryRoutes])
}
