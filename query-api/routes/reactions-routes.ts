import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { auditContext } from '../../lib/audit/audit-context.ts'
import { InvalidConditionError, NotFoundError } from '../../lib/errors.ts'
import { conditionProblem, createReactionBody, patchReactionBody, type ReactionInput } from '../../lib/reactions/reaction-schema.ts'
import type { ReactionStore } from '../../lib/reactions/reaction-store.ts'
import type { CursorCodec } from '../cursor-codec.ts'
import { cursorId, cursorIsoTime, limitParam, nextLink, parseBody, parseQuery } from '../query-params.ts'
import { reactionsDocs } from '../../lib/http/route-schemas/index.ts'

const listQuery = z.object({ limit: limitParam, cursor: z.string().max(200).optional() })
// The shape Sluice issues, exactly: anything else once reached Postgres as a cast error, a 500.
const listCursor = z.tuple([cursorIsoTime, cursorId])

function checkConditions(input: Pick<ReactionInput, 'conditions'>): void {
  const problem = conditionProblem(input.conditions)
  if (problem) throw new InvalidConditionError(problem)
}

/** Reactions CRUD (query key). Another project's reaction or project id is a 404. */
export const reactionsRoutes: FastifyPluginAsync<{ reactions: ReactionStore; cursors: CursorCodec }> = async (app, { reactions, cursors }) => {
  const auth = { onRequest: app.requireKey('query') }

  app.post('/api/reactions', { ...auth, schema: { ...reactionsDocs.create, body: createReactionBody } }, async (request, reply) => {
    const body = parseBody(createReactionBody, request.body)
    if (body.project_id !== undefined && body.project_id !== request.projectId) throw new NotFoundError('Project')
    checkConditions(body)
    return reply.status(201).send(await reactions.create(request.projectId, body, auditContext(request)))
  })

  app.get<{ Params: { project_id: string } }>('/api/reactions/:project_id', { ...auth, schema: { ...reactionsDocs.list, querystring: listQuery } }, async (request, reply) => {
    if (request.params.project_id !== request.projectId) throw new NotFoundError('Project')
    const q = parseQuery(listQuery, request.query)
    const after = cursors.decode(listCursor, q.cursor)
    const page = await reactions.list(request.projectId, { limit: q.limit + 1, after })
    const items = page.slice(0, q.limit)
    const last = items[items.length - 1]
    if (page.length > q.limit && last) void reply.header('link', nextLink(request.url, cursors.encode([last.created_at, last.id])))
    return items
  })

  app.patch<{ Params: { id: string } }>('/api/reactions/:id', { ...auth, schema: { ...reactionsDocs.update, body: patchReactionBody } }, async (request) => {
    const patch = parseBody(patchReactionBody, request.body)
    const current = await reactions.get(request.projectId, request.params.id)
    if (!current) throw new NotFoundError('Reaction')
    const next: ReactionInput = { ...current, ...patch }
    checkConditions(next)
    const updated = await reactions.update(request.projectId, current.id, next, { ...auditContext(request), before: current })
    if (!updated) throw new NotFoundError('Reaction')
    return updated
  })

  app.delete<{ Params: { id: string } }>('/api/reactions/:id', { ...auth, schema: reactionsDocs.remove }, async (request, reply) => {
    if (!(await reactions.remove(request.projectId, request.params.id, auditContext(request)))) throw new NotFoundError('Reaction')
    return reply.status(204).send()
  })
}
