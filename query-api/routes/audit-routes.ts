import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import type { AuditStore } from '../../lib/audit/audit-store.ts'
import { NotFoundError } from '../../lib/errors.ts'
import type { CursorCodec } from '../cursor-codec.ts'
import { cursorId, cursorIsoTime, limitParam, nextLink, parseQuery, timeParam } from '../query-params.ts'
import { adminDocs } from '../../lib/http/route-schemas/index.ts'

const filterFields = {
  action: z.string().min(1).max(100).optional(),
  from: timeParam.optional(),
  to: timeParam.optional(),
  limit: limitParam,
  cursor: z.string().max(200).optional(),
}
const adminQuery = z.object({ project_id: z.uuid().optional(), ...filterFields })
const projectQuery = z.object(filterFields)
const listCursor = z.tuple([cursorIsoTime, cursorId])

/**
 * The audit log, newest first: every project's (`GET /api/audit`, admin token) or one project's
 * (`GET /api/projects/{id}/audit`, that project's query key; another project is 404).
 */
export const auditRoutes: FastifyPluginAsync<{ audit: AuditStore; cursors: CursorCodec }> = async (app, { audit, cursors }) => {
  async function page(request: FastifyRequest, reply: FastifyReply, projectId: string | undefined, q: z.infer<typeof projectQuery>) {
    const rows = await audit.list({ projectId, action: q.action, from: q.from, to: q.to, limit: q.limit + 1, after: cursors.decode(listCursor, q.cursor) })
    const items = rows.slice(0, q.limit)
    const last = items[items.length - 1]
    if (rows.length > q.limit && last) void reply.header('link', nextLink(request.url, cursors.encode([last.at, last.id])))
    return items
  }

  app.get('/api/audit', { onRequest: app.requireKey('admin'), schema: { ...adminDocs.audit, querystring: adminQuery } }, async (request, reply) => {
    const q = parseQuery(adminQuery, request.query)
    return page(request, reply, q.project_id, q)
  })

  app.get<{ Params: { id: string } }>('/api/projects/:id/audit', { onRequest: app.requireKey('query'), schema: { ...adminDocs.projectAudit, querystring: projectQuery } }, async (request, reply) => {
    if (request.params.id !== request.projectId) throw new NotFoundError('Project')
    return page(request, reply, request.projectId, parseQuery(projectQuery, request.query))
  })
}
