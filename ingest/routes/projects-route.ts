import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { auditContext } from '../../lib/audit/audit-context.ts'
import { writeAudit } from '../../lib/audit/audit-store.ts'
import type { ApiKeyStore } from '../../lib/auth/api-key-store.ts'
import { ValidationError } from '../../lib/errors.ts'
import { hasUnstorableText } from '../../lib/json-guard.ts'
import { withTransaction, type PgPool } from '../../lib/postgres.ts'
// The list helpers are the query API's; the admin lists page the same way.
import type { CursorCodec } from '../../query-api/cursor-codec.ts'
import { cursorId, cursorIsoTime, limitParam, nextLink, parseQuery } from '../../query-api/query-params.ts'
import type { ProjectStore } from '../project-store.ts'
import { adminDocs } from '../../lib/http/route-schemas/index.ts'

// Postgres text cannot hold NUL; a lone surrogate has no UTF-8 form: refused, not a 500.
const createProjectBody = z.object({ name: z.string().trim().min(1).max(200).refine((s) => !hasUnstorableText(s)) })
const listQuery = z.object({ limit: limitParam, cursor: z.string().max(200).optional() })
const listCursor = z.tuple([cursorIsoTime, cursorId])

export interface ProjectsRouteOptions {
  pg: PgPool
  projects: ProjectStore
  keys: ApiKeyStore
  cursors: CursorCodec
}

/**
 * `POST /api/projects` (a project and its first ingest and query keys, shown this once) and
 * `GET /api/projects` (without keys); admin token.
 */
export const projectsRoute: FastifyPluginAsync<ProjectsRouteOptions> = async (app, { pg, projects, keys, cursors }) => {
  const auth = { onRequest: app.requireKey('admin') }

  app.post('/api/projects', { ...auth, schema: { ...adminDocs.createProject, body: createProjectBody } }, async (request, reply) => {
    const parsed = createProjectBody.safeParse(request.body)
    if (!parsed.success) throw new ValidationError('name: must be a string of 1 to 200 characters, without NUL or unpaired surrogates')
    const { name } = parsed.data
    const created = await withTransaction(pg, async (client) => {
      const project = await projects.create(client, name)
      const ingest = await keys.create(client, project.id, 'ingest', 'default')
      const query = await keys.create(client, project.id, 'query', 'default')
      await writeAudit(client, {
        ...auditContext(request),
        action: 'project.created',
        target: { type: 'project', id: project.id },
        projectId: project.id,
        changes: { name, keys: [ingest, query].map((k) => ({ id: k.id, kind: k.kind, prefix: k.prefix })) },
      })
      return { project, ingest, query }
    })
    return reply
      .status(201)
      .header('cache-control', 'no-store')
      .send({ id: created.project.id, name: created.project.name, ingest_key: created.ingest.key, query_key: created.query.key, created_at: created.project.created_at })
  })

  app.get('/api/projects', { ...auth, schema: { ...adminDocs.listProjects, querystring: listQuery } }, async (request, reply) => {
    const q = parseQuery(listQuery, request.query)
    const page = await projects.list({ limit: q.limit + 1, after: cursors.decode(listCursor, q.cursor) })
    const items = page.slice(0, q.limit)
    const last = items[items.length - 1]
    if (page.length > q.limit && last) void reply.header('link', nextLink(request.url, cursors.encode([last.created_at, last.id])))
    return items
  })
}
