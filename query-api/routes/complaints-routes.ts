import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { auditContext } from '../../lib/audit/audit-context.ts'
import { NotFoundError } from '../../lib/errors.ts'
import type { ComplaintStore } from '../complaint-store.ts'
import type { CursorCodec } from '../cursor-codec.ts'
import { cursorId, cursorIsoTime, limitParam, nextLink, parseBody, parseQuery } from '../query-params.ts'
import { complaintsDocs } from '../../lib/http/route-schemas/index.ts'

const STATUSES = ['open', 'acknowledged', 'resolved'] as const
const listQuery = z.object({
  status: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(STATUSES))
    .optional(),
  limit: limitParam,
  cursor: z.string().max(200).optional(),
})
// The shape Sluice issues, exactly: anything else once reached Postgres as a cast error, a 500.
const listCursor = z.tuple([cursorIsoTime, cursorId])
const pageQuery = z.object({ limit: limitParam, cursor: z.string().max(200).optional() })
const patchBody = z.strictObject({
  status: z.enum(STATUSES),
  note: z.string().max(10_000).nullable().optional(),
})

/**
 * Complaints (query key). `GET /api/complaints/{id}` takes a project id (the list) or a complaint
 * id (one complaint): both are UUIDs made by Sluice, so one never passes for the other.
 */
export const complaintsRoutes: FastifyPluginAsync<{ complaints: ComplaintStore; cursors: CursorCodec }> = async (app, { complaints, cursors }) => {
  const auth = { onRequest: app.requireKey('query') }

  app.get<{ Params: { id: string } }>('/api/complaints/:id', { ...auth, schema: { ...complaintsDocs.get, querystring: listQuery } }, async (request, reply) => {
    if (request.params.id === request.projectId) {
      const q = parseQuery(listQuery, request.query)
      const page = await complaints.list(request.projectId, { status: q.status, limit: q.limit + 1, after: cursors.decode(listCursor, q.cursor) })
      const items = page.slice(0, q.limit)
      const last = items[items.length - 1]
      if (page.length > q.limit && last) void reply.header('link', nextLink(request.url, cursors.encode([last.created_at, last.id])))
      return items
    }
    const complaint = await complaints.get(request.projectId, request.params.id)
    if (!complaint) throw new NotFoundError('Complaint')
    return complaint
  })

  app.patch<{ Params: { id: string } }>('/api/complaints/:id', { ...auth, schema: { ...complaintsDocs.update, body: patchBody } }, async (request) => {
    const change = parseBody(patchBody, request.body)
    const updated = await complaints.update(request.projectId, request.params.id, change, auditContext(request))
    if (!updated) throw new NotFoundError('Complaint')
    return updated
  })

  app.get<{ Params: { id: string } }>('/api/complaints/:id/deliveries', { ...auth, schema: { ...complaintsDocs.deliveries, querystring: pageQuery } }, async (request, reply) => {
    const q = parseQuery(pageQuery, request.query)
    const after = cursors.decode(listCursor, q.cursor)
    const complaint = await complaints.get(request.projectId, request.params.id)
    if (!complaint) throw new NotFoundError('Complaint')
    const page = await complaints.deliveries(request.projectId, complaint.id, { limit: q.limit + 1, after })
    const items = page.slice(0, q.limit)
    const last = items[items.length - 1]
    if (page.length > q.limit && last) void reply.header('link', nextLink(request.url, cursors.encode([last.created_at, last.id])))
    return items
  })
}
