import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import type { FunnelReader } from '../funnel-reader.ts'
import { parseQuery, timeParam } from '../query-params.ts'
import { runsDocs } from '../../lib/http/route-schemas/index.ts'

const funnelQuery = z.object({ from: timeParam.optional(), to: timeParam.optional() })

/** `GET /pipelines/{name}/funnel` (query key): the funnel over every run of that name in [from, to). */
export const pipelinesRoute: FastifyPluginAsync<{ funnels: FunnelReader }> = async (app, { funnels }) => {
  app.get<{ Params: { name: string } }>('/pipelines/:name/funnel', { onRequest: app.requireKey('query'), schema: { ...runsDocs.pipelineFunnel, querystring: funnelQuery } }, async (request) => {
    const q = parseQuery(funnelQuery, request.query)
    return funnels.pipelineFunnel(request.projectId, request.params.name, q)
  })
}
