import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { NotFoundError } from '../../lib/errors.ts'
import type { CursorCodec } from '../cursor-codec.ts'
import { cursorId, cursorTime, limitParam, nextLink, parseQuery, timeParam } from '../query-params.ts'
import type { RunReader } from '../run-reader.ts'
import { runsDocs } from '../../lib/http/route-schemas/index.ts'

const tagParam = z
  .string()
  .regex(/^[^:]+:.*$/, 'must be key:value')
  .transform((s) => {
    const i = s.indexOf(':')
    return [s.slice(0, i), s.slice(i + 1)] as [string, string]
  })

const listRunsQuery = z.object({
  name: z.string().max(200).optional(),
  status: z
    .string()
    .transform((s) => s.toUpperCase())
    .pipe(z.enum(['RUNNING', 'COMPLETED', 'FAILED']))
    .optional(),
  tag: z
    .union([tagParam, z.array(tagParam).max(20)])
    .optional()
    .transform((v) => (v === undefined ? [] : Array.isArray(v[0]) ? (v as [string, string][]) : [v as [string, string]])),
  from: timeParam.optional(),
  to: timeParam.optional(),
  limit: limitParam,
  cursor: z.string().max(500).optional(),
})

const runCursor = z.tuple([cursorTime, cursorId])
const stepsQuery = z.object({ limit: limitParam, cursor: z.string().max(100).optional() })
const stepCursor = z.number().int().min(0).max(1_000_000_000)

/** `GET /runs`, `GET /runs/{id}`, `GET /runs/{id}/steps` (query key). */
export const runsRoutes: FastifyPluginAsync<{ runs: RunReader; cursors: CursorCodec }> = async (app, { runs, cursors }) => {
  const auth = { onRequest: app.requireKey('query') }

  app.get('/runs', { ...auth, schema: { ...runsDocs.list, querystring: listRunsQuery } }, async (request, reply) => {
    const q = parseQuery(listRunsQuery, request.query)
    const before = cursors.decode(runCursor, q.cursor) ?? undefined
    const page = await runs.listRuns(request.projectId, { ...q, tags: q.tag, before })
    const last = page.runs[page.runs.length - 1]
    if (page.hasMore && last) void reply.header('link', nextLink(request.url, cursors.encode([Date.parse(last.started_at), last.id])))
    return page.runs
  })

  app.get<{ Params: { id: string } }>('/runs/:id', { ...auth, schema: runsDocs.get }, async (request) => {
    const run = await runs.getRun(request.projectId, request.params.id)
    if (!run) throw new NotFoundError('Run')
    return run
  })

  app.get<{ Params: { id: string } }>('/runs/:id/steps', { ...auth, schema: { ...runsDocs.steps, querystring: stepsQuery } }, async (request, reply) => {
    const q = parseQuery(stepsQuery, request.query)
    const offset = cursors.decode(stepCursor, q.cursor) ?? 0
    // Both reads at once (run-reader.ts, getRunWithSteps): the steps of an unknown run are none.
    const [run, page] = await Promise.all([runs.getRun(request.projectId, request.params.id), runs.listSteps(request.projectId, request.params.id, { offset, limit: q.limit })])
    if (!run) throw new NotFoundError('Run')
    if (page.hasMore) void reply.header('link', nextLink(request.url, cursors.encode(offset + q.limit)))
    return page.steps
  })
}
