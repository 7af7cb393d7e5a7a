import { randomUUID } from 'node:crypto'
import type { PgClient, PgPool } from '../postgres.ts'
import { redactSecrets } from './redact-secrets.ts'

/** Who made a change: the admin token (no key id) or a project's query key. */
export interface AuditActor {
  kind: 'admin' | 'query'
  key_id: string | null
}

/** What a route knows about the request making a change. */
export interface AuditContext {
  actor: AuditActor
  requestId: string
}

export interface AuditEntry extends AuditContext {
  /** `project.created`, `key.created`, `key.revoked`, `reaction.created|updated|deleted`, `complaint.updated`, ... */
  action: string
  target: { type: string; id: string }
  projectId: string | null
  /** What changed; secrets are redacted here whatever the caller passes. */
  changes: Record<string, unknown>
}

export interface AuditRecord {
  id: string
  at: string
  actor: AuditActor
  action: string
  target: { type: string; id: string }
  project_id: string | null
  request_id: string | null
  changes: unknown
}

interface AuditRow {
  id: string
  at: Date
  actor_kind: AuditActor['kind']
  actor_key_id: string | null
  action: string
  target_type: string
  target_id: string
  project_id: string | null
  request_id: string | null
  changes: unknown
}

/**
 * Writes one audit row on `client`, inside the caller's transaction, so the row exists if and only
 * if the change does. Every management write calls it (the dead-letter replay route too).
 *
 * @example
 *   await withTransaction(pg, async (client) => {
 *     await client.query('UPDATE ...')
 *     await writeAudit(client, { ...auditContext(request), action: 'dead_letter.replayed', target: { type: 'dead_letter', id: 'all' }, projectId: null, changes: { replayed: n } })
 *   })
 */
export async function writeAudit(client: PgClient, entry: AuditEntry): Promise<void> {
  await client.query(
    `INSERT INTO audit_log (id, actor_kind, actor_key_id, action, target_type, target_id, project_id, request_id, changes)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [randomUUID(), entry.actor.kind, entry.actor.key_id, entry.action, entry.target.type, entry.target.id, entry.projectId, entry.requestId, JSON.stringify(redactSecrets(entry.changes))],
  )
}

export interface AuditFilter {
  projectId?: string | undefined
  action?: string | undefined
  /** Epoch ms, `[from, to)`. */
  from?: number | undefined
  to?: number | undefined
  limit: number
  after?: readonly [string, string] | null
}

/** Reads the audit log, newest first, keyset-paged on (at, id). */
export function createAuditStore(pg: PgPool) {
  return {
    async list(f: AuditFilter): Promise<AuditRecord[]> {
      const { rows } = await pg.query<AuditRow>(
        `SELECT id, at, actor_kind, actor_key_id, action, target_type, target_id, project_id, request_id, changes FROM audit_log
         WHERE ($1::uuid IS NULL OR project_id = $1) AND ($2::text IS NULL OR action = $2)
           AND ($3::timestamptz IS NULL OR at >= $3) AND ($4::timestamptz IS NULL OR at < $4)
           AND ($5::timestamptz IS NULL OR (at, id) < ($5::timestamptz, $6::uuid))
         ORDER BY at DESC, id DESC LIMIT $7`,
        [
          f.projectId ?? null,
          f.action ?? null,
          f.from === undefined ? null : new Date(f.from),
          f.to === undefined ? null : new Date(f.to),
          f.after?.[0] ?? null,
          f.after?.[1] ?? null,
          f.limit,
        ],
      )
      return rows.map((r) => ({
        id: r.id,
        at: r.at.toISOString(),
        actor: { kind: r.actor_kind, key_id: r.actor_key_id },
        action: r.action,
        target: { type: r.target_type, id: r.target_id },
        project_id: r.project_id,
        request_id: r.request_id,
        changes: r.changes,
      }))
    },
  }
}

export type AuditStore = ReturnType<typeof createAuditStore>
