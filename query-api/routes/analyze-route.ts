import type { FastifyPluginAsync } from 'fastify'
import { NotFoundError } from '../../lib/errors.ts'
import { analyzeRun } from '../run-analysis.ts'
import type { RunReader, Step } from '../run-reader.ts'
import { runsDocs } from '../../lib/http/route-schemas/index.ts'

const PAGE = 1000
const MAX_STEPS = 20_000

/** `GET /analyze/{run_id}` (query key): the run, its funnel and summary. */
export const analyzeRoute: FastifyPluginAsync<{ runs: RunReader }> = async (app, { runs }) => {
  app.get<{ Params: { run_id: string } }>('/analyze/:run_id', { onRequest: app.requireKey('query'), schema: runsDocs.analyze }, async (request) => {
    const run = await runs.getRun(request.projectId, request.params.run_id)
    if (!run) throw new NotFoundError('Run')
    const steps: Step[] = []
    for (let offset = 0; offset < MAX_STEPS; offset += PAGE) {
      const page = await runs.listSteps(request.projectId, run.id, { offset, limit: PAGE })
      steps.push(...page.steps)
      if (!page.hasMore) break
    }
    return analyzeRun(run, steps)
  })
}
