import type { FastifyPluginAsync } from 'fastify'
import { NotFoundError } from '../../lib/errors.ts'
import { analyzeRun } from '../run-analysis.ts'
import type { RunReader } from '../run-reader.ts'
import { runsDocs } from '../../lib/http/route-schemas/index.ts'

const MAX_STEPS = 20_000

/** `GET /analyze/{run_id}` (query key): the run, its funnel and summary. */
export const analyzeRoute: FastifyPluginAsync<{ runs: RunReader }> = async (app, { runs }) => {
  app.get<{ Params: { run_id: string } }>('/analyze/:run_id', { onRequest: app.requireKey('query'), schema: runsDocs.analyze }, async (request) => {
    const found = await runs.getRunWithSteps(request.projectId, request.params.run_id, MAX_STEPS)
    if (!found) throw new NotFoundError('Run')
    return analyzeRun(found.run, found.steps)
  })
}
