import { randomUUID } from 'node:crypto'
import type { PgClient, PgPool } from '../postgres.ts'
import { generateApiKey, hashApiKey, type KeyKind } from './api-keys.ts'
import { KEY_REVOKED_CHANNEL } from './key-revocation-listener.ts'

/** A key as listed: never the key itself. */
export interface ApiKeyInfo {
  id: string
  kind: KeyKind
  name: string | null
  prefix: string
  created_at: string
  last_used_at: string | null
  revoked_at: string | null
}

/** A key just made: the one time `key` is known outside the caller's memory. */
export interface NewApiKey {
  id: string
  kind: KeyKind
  name: string | null
  key: string
  prefix: string
  created_at: string
}

interface KeyRow {
  id: string
  kind: KeyKind
  name: string | null
  prefix: string
  created_at: Date
  last_used_at: Date | null
  revoked_at: Date | null
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const COLUMNS = 'id, kind, name, prefix, created_at, last_used_at, revoked_at'
const iso = (d: Date | null) => (d ? d.toISOString() : null)

// `sl_ingest_` / `sl_query_` plus four random characters: enough to tell keys apart, too little to guess.
const prefixOf = (key: string) => key.slice(0, key.indexOf('_', 3) + 5)

/** The SQL of `api_keys`: keys are stored as SHA-256 digests; the plaintext is returned once. */
export function createApiKeyStore(pg: PgPool) {
  return {
    /** Makes a key on `client` (inside the caller's transaction). */
    async create(client: PgClient, projectId: string, kind: KeyKind, name: string | null): Promise<NewApiKey> {
      const key = generateApiKey(kind)
      const { rows } = await client.query<KeyRow>(
        `INSERT INTO api_keys (id, key_hash, project_id, kind, name, prefix) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
        [randomUUID(), hashApiKey(key), projectId, kind, name, prefixOf(key)],
      )
      const r = rows[0]!
      return { id: r.id, kind: r.kind, name: r.name, key, prefix: r.prefix, created_at: r.created_at.toISOString() }
    },

    /**
     * Newest first, keyset-paged. The cursor is the last key's id: its (created_at, id) is read
     * back here, so the comparison is exact at Postgres's microseconds.
     */
    async list(projectId: string, page: { limit: number; afterId?: string | null }): Promise<ApiKeyInfo[]> {
      const { rows } = await pg.query<KeyRow>(
        `SELECT ${COLUMNS} FROM api_keys WHERE project_id = $1
           AND ($2::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM api_keys WHERE id = $2 AND project_id = $1))
         ORDER BY created_at DESC, id DESC LIMIT $3`,
        [projectId, page.afterId ?? null, page.limit],
      )
      return rows.map((r) => ({ ...r, created_at: r.created_at.toISOString(), last_used_at: iso(r.last_used_at), revoked_at: iso(r.revoked_at) }))
    },

    /** Revokes a key of this project; null when there is none, `already` when it was revoked before. */
    async revoke(client: PgClient, projectId: string, keyId: string): Promise<{ kind: KeyKind; prefix: string; already: boolean } | null> {
      if (!UUID.test(keyId)) return null
      const { rows } = await client.query<KeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1 AND project_id = $2 FOR UPDATE`, [keyId, projectId])
      const row = rows[0]
      if (!row) return null
      if (row.revoked_at) return { kind: row.kind, prefix: row.prefix, already: true }
      await client.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [keyId])
      // Delivered to every listening process when the transaction commits, never before.
      await client.query('SELECT pg_notify($1, $2)', [KEY_REVOKED_CHANNEL, keyId])
      return { kind: row.kind, prefix: row.prefix, already: false }
    },

    /** The live key with this digest. */
    async lookup(digest: Buffer): Promise<{ id: string; project_id: string; kind: KeyKind } | null> {
      const { rows } = await pg.query<{ id: string; project_id: string; kind: KeyKind }>(
        'SELECT id, project_id, kind FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL',
        [digest],
      )
      return rows[0] ?? null
    },

    /** Stamps `last_used_at`, at most once a minute per key whichever process asks. */
    async touch(keyId: string): Promise<void> {
      await pg.query(
        `UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
        [keyId],
      )
    },
  }
}

export type ApiKeyStore = ReturnType<typeof createApiKeyStore>
