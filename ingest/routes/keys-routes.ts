import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { auditContext } from '../../lib/audit/audit-context.ts'
import { writeAudit } from '../../lib/audit/audit-store.ts'
import type { ApiKeyStore } from '../../lib/auth/api-key-store.ts'
import type { KeyResolver } from '../../lib/auth/key-resolver.ts'
import { NotFoundError } from '../../lib/errors.ts'
import { withTransaction, type PgPool } from '../../lib/postgres.ts'
import type { CursorCodec } from '../../query-api/cursor-codec.ts'
import { cursorId, limitParam, nextLink, parseBody, parseQuery } from '../../query-api/query-params.ts'
import type { ProjectStore } from '../project-store.ts'
import { adminDocs } from '../../lib/http/route-schemas/index.ts'

const createKeyBody = z.strictObject({
  kind: z.enum(['ingest', 'query']),
  name: z.string().trim().min(1).max(200).optional(),
})

const listQuery = z.object({ limit: limitParam, cursor: z.string().max(200).optional() })
const listCursor = z.tuple([cursorId])

export interface KeysRoutesOptions {
  pg: PgPool
  projects: ProjectStore
  keys: ApiKeyStore
  resolveKey: KeyResolver
  cursors: CursorCodec
}

/**
 * A project's keys (admin token): create (shown once), list (never the key), revoke. Rotation is
 * create, move the clients, revoke. An unknown project, or another project's key, is 404.
 */
export const keysRoutes: FastifyPluginAsync<KeysRoutesOptions> = async (app, { pg, projects, keys, resolveKey, cursors }) => {
  const auth = { onRequest: app.requireKey('admin') }

  async function requireProject(id: string): Promise<void> {
    if (!(await projects.exists(id))) throw new NotFoundError('Project')
  }

  app.post<{ Params: { id: string } }>('/api/projects/:id/keys', { ...auth, schema: { ...adminDocs.createKey, body: createKeyBody } }, async (request, reply) => {
    await requireProject(request.params.id)
    const body = parseBody(createKeyBody, request.body)
    const key = await withTransaction(pg, async (client) => {
      const made = await keys.create(client, request.params.id, body.kind, body.name ?? null)
      await writeAudit(client, {
        ...auditContext(request),
        action: 'key.created',
        target: { type: 'key', id: made.id },
        projectId: request.params.id,
        changes: { kind: made.kind, name: made.name, prefix: made.prefix },
      })
      return made
    })
    return reply.status(201).header('cache-control', 'no-store').send(key)
  })

  app.get<{ Params: { id: string } }>('/api/projects/:id/keys', { ...auth, schema: { ...adminDocs.listKeys, querystring: listQuery } }, async (request, reply) => {
    await requireProject(request.params.id)
    const q = parseQuery(listQuery, request.query)
    const after = cursors.decode(listCursor, q.cursor)
    const page = await keys.list(request.params.id, { limit: q.limit + 1, afterId: after?.[0] ?? null })
    const items = page.slice(0, q.limit)
    const last = items[items.length - 1]
    if (page.length > q.limit && last) void reply.header('link', nextLink(request.url, cursors.encode([last.id])))
    return items
  })

  app.delete<{ Params: { id: string; key_id: string } }>('/api/projects/:id/keys/:key_id', { ...auth, schema: adminDocs.revokeKey }, async (request, reply) => {
    await requireProject(request.params.id)
    const revoked = await withTransaction(pg, async (client) => {
      const r = await keys.revoke(client, request.params.id, request.params.key_id)
      // Revoking a revoked key changes nothing: 204 again, and no second audit row.
      if (r && !r.already) {
        await writeAudit(client, {
          ...auditContext(request),
          action: 'key.revoked',
          target: { type: 'key', id: request.params.key_id },
          projectId: request.params.id,
          changes: { kind: r.kind, prefix: r.prefix, revoked: { from: false, to: true } },
        })
      }
      return r
    })
    if (!revoked) throw new NotFoundError('Key')
    // This process refuses the key at once; the others on the commit's NOTIFY, and at the latest
    // when their cache entry expires (2 s).
    resolveKey.forget()
    return reply.status(204).send()
  })
}
