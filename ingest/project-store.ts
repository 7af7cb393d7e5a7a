import { randomUUID } from 'node:crypto'
import type { PgClient, PgPool } from '../lib/postgres.ts'

export interface Project {
  id: string
  name: string
  created_at: string
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const toProject = (r: { id: string; name: string; created_at: Date }): Project => ({ id: r.id, name: r.name, created_at: r.created_at.toISOString() })

/** The SQL of `projects`. Keys live in `api_keys` (lib/auth/api-key-store.ts). */
export function createProjectStore(pg: PgPool) {
  return {
    /** Inserts a project on `client` (inside the caller's transaction). */
    async create(client: PgClient, name: string): Promise<Project> {
      // Milliseconds only, as the API shows them, so the listing's keyset cursor compares exactly.
      const { rows } = await client.query<{ id: string; name: string; created_at: Date }>(
        `INSERT INTO projects (id, name, created_at) VALUES ($1, $2, date_trunc('milliseconds', now())) RETURNING id, name, created_at`,
        [randomUUID(), name],
      )
      return toProject(rows[0]!)
    },

    async exists(id: string): Promise<boolean> {
      if (!UUID.test(id)) return false
      const { rowCount } = await pg.query('SELECT 1 FROM projects WHERE id = $1', [id])
      return (rowCount ?? 0) > 0
    },

    /** Newest first, keyset-paged on (created_at, id). */
    async list(page: { limit: number; after?: readonly [string, string] | null }): Promise<Project[]> {
      const { rows } = await pg.query<{ id: string; name: string; created_at: Date }>(
        `SELECT id, name, created_at FROM projects
         WHERE ($1::timestamptz IS NULL OR (created_at, id) < ($1::timestamptz, $2::uuid))
         ORDER BY created_at DESC, id DESC LIMIT $3`,
        [page.after?.[0] ?? null, page.after?.[1] ?? null, page.limit],
      )
      return rows.map(toProject)
    },
  }
}

export type ProjectStore = ReturnType<typeof createProjectStore>
