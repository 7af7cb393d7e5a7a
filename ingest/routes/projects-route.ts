import { randomUUID } from 'node:crypto'
import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { generateApiKey, hashApiKey } from '../../lib/auth/api-keys.ts'
import { ValidationError } from '../../lib/errors.ts'
import { hasUnstorableText } from '../../lib/json-guard.ts'
import type { PgPool } from '../../lib/postgres.ts'

// Postgres text cannot hold NUL; a lone surrogate has no UTF-8 form: refused, not a 500.
const createProjectBody = z.object({ name: z.string().trim().min(1).max(200).refine((s) => !hasUnstorableText(s)) })

/** `POST /api/projects` (admin token): a project and its two keys, shown this once. */
export const projectsRoute: FastifyPluginAsync<{ pg: PgPool }> = async (app, { pg }) => {
  app.post('/api/projects', { onRequest: app.requireKey('admin') }, async (request, reply) => {
    const parsed = createProjectBody.safeParse(request.body)
    if (!parsed.success) throw new ValidationError('name: must be a string of 1 to 200 characters, without NUL or unpaired surrogates')
    const id = randomUUID()
    const ingestKey = generateApiKey('ingest')
    const queryKey = generateApiKey('query')
    const client = await pg.connect()
    try {
      await client.query('BEGIN')
      const { rows } = await client.query<{ created_at: Date }>(
        'INSERT INTO projects (id, name) VALUES ($1, $2) RETURNING created_at',
        [id, parsed.data.name],
      )
      await client.query(
        `INSERT INTO api_keys (key_hash, project_id, kind, prefix) VALUES ($1, $3, 'ingest', $4), ($2, $3, 'query', $5)`,
        [hashApiKey(ingestKey), hashApiKey(queryKey), id, ingestKey.slice(0, 14), queryKey.slice(0, 13)],
      )
      await client.query('COMMIT')
      return reply.status(201).send({
        id,
        name: parsed.data.name,
        ingest_key: ingestKey,
        query_key: queryKey,
        created_at: rows[0]!.created_at.toISOString(),
      })
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
  })
}
