import { randomUUID } from 'node:crypto'
import { changedFields, redactSecrets } from '../audit/redact-secrets.ts'
import { writeAudit, type AuditContext } from '../audit/audit-store.ts'
import { withTransaction, type PgClient, type PgPool } from '../postgres.ts'
import { withSecrets, type ReactionAction, type ReactionInput } from './reaction-schema.ts'
import type { Condition } from './conditions.ts'

export interface Reaction {
  id: string
  project_id: string
  name: string
  enabled: boolean
  event_type: 'log' | 'step_complete' | 'run_complete'
  conditions: Condition[]
  threshold: { count: number; window_seconds: number }
  group_by: string[]
  cooldown_seconds: number
  severity: 'info' | 'warning' | 'error' | 'critical'
  actions: ReactionAction[]
  created_at: string
  updated_at: string
}

interface ReactionRow {
  id: string
  project_id: string
  name: string
  enabled: boolean
  event_type: Reaction['event_type']
  conditions: Condition[]
  threshold_count: number
  window_seconds: number
  group_by: string[]
  cooldown_seconds: number
  severity: Reaction['severity']
  actions: ReactionAction[]
  created_at: Date
  updated_at: Date
}

const COLUMNS = `id, project_id, name, enabled, event_type, conditions, threshold_count, window_seconds, group_by,
  cooldown_seconds, severity, actions, created_at, updated_at`

function toReaction(r: ReactionRow): Reaction {
  return {
    id: r.id,
    project_id: r.project_id,
    name: r.name,
    enabled: r.enabled,
    event_type: r.event_type,
    conditions: r.conditions,
    threshold: { count: r.threshold_count, window_seconds: r.window_seconds },
    group_by: r.group_by,
    cooldown_seconds: r.cooldown_seconds,
    severity: r.severity,
    actions: r.actions,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * Reactions in Postgres. Every change bumps `reaction_rules_version` in the same transaction, so a
 * rule processor that checks the version per batch applies the change to every event acknowledged
 * after the change's response.
 */
export function createReactionStore(pg: PgPool) {
  // The change, its audit row and the version bump commit together or not at all.
  function inTransaction<T>(fn: (client: PgClient) => Promise<T>): Promise<T> {
    return withTransaction(pg, async (client) => {
      const result = await fn(client)
      await client.query('UPDATE reaction_rules_version SET version = version + 1')
      return result
    })
  }

  const audit = (client: PgClient, ctx: AuditContext, action: string, r: Pick<Reaction, 'id' | 'project_id'>, changes: Record<string, unknown>) =>
    writeAudit(client, { ...ctx, action, target: { type: 'reaction', id: r.id }, projectId: r.project_id, changes })

  return {
    async create(projectId: string, input: ReactionInput, ctx: AuditContext): Promise<Reaction> {
      return inTransaction(async (client) => {
        const { rows } = await client.query<ReactionRow>(
          `INSERT INTO reactions (id, project_id, name, enabled, event_type, conditions, threshold_count, window_seconds,
             group_by, cooldown_seconds, severity, actions)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING ${COLUMNS}`,
          [
            randomUUID(),
            projectId,
            input.name,
            input.enabled,
            input.event_type,
            JSON.stringify(input.conditions),
            input.threshold.count,
            input.threshold.window_seconds,
            input.group_by,
            input.cooldown_seconds,
            input.severity,
            JSON.stringify(withSecrets(input.actions)),
          ],
        )
        const created = toReaction(rows[0]!)
        const { id: _id, project_id: _p, created_at: _c, updated_at: _u, ...fields } = created
        await audit(client, ctx, 'reaction.created', created, redactSecrets(fields) as Record<string, unknown>)
        return created
      })
    },

    async list(projectId: string, page: { limit: number; after?: readonly [string, string] | null }): Promise<Reaction[]> {
      const { rows } = await pg.query<ReactionRow>(
        `SELECT ${COLUMNS} FROM reactions WHERE project_id = $1
           AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
         ORDER BY created_at DESC, id DESC LIMIT $4`,
        [projectId, page.after?.[0] ?? null, page.after?.[1] ?? null, page.limit],
      )
      return rows.map(toReaction)
    },

    async get(projectId: string, id: string): Promise<Reaction | null> {
      if (!UUID.test(id)) return null
      const { rows } = await pg.query<ReactionRow>(`SELECT ${COLUMNS} FROM reactions WHERE id = $1 AND project_id = $2`, [id, projectId])
      return rows[0] ? toReaction(rows[0]) : null
    },

    /** Replaces the rule's fields; the audit row holds the fields that differ from `before`. */
    async update(projectId: string, id: string, next: ReactionInput, ctx: AuditContext & { before: Reaction }): Promise<Reaction | null> {
      if (!UUID.test(id)) return null
      return inTransaction(async (client) => {
        const { rows } = await client.query<ReactionRow>(
          `UPDATE reactions SET name = $3, enabled = $4, event_type = $5, conditions = $6, threshold_count = $7,
             window_seconds = $8, group_by = $9, cooldown_seconds = $10, severity = $11, actions = $12, updated_at = now()
           WHERE id = $1 AND project_id = $2 RETURNING ${COLUMNS}`,
          [
            id,
            projectId,
            next.name,
            next.enabled,
            next.event_type,
            JSON.stringify(next.conditions),
            next.threshold.count,
            next.threshold.window_seconds,
            next.group_by,
            next.cooldown_seconds,
            next.severity,
            JSON.stringify(withSecrets(next.actions)),
          ],
        )
        if (!rows[0]) return null
        const updated = toReaction(rows[0])
        const { before, ...context } = ctx
        await audit(client, context, 'reaction.updated', updated, changedFields({ ...before }, { ...updated }, ['updated_at']))
        return updated
      })
    },

    async remove(projectId: string, id: string, ctx: AuditContext): Promise<boolean> {
      if (!UUID.test(id)) return false
      return inTransaction(async (client) => {
        const { rows } = await client.query<ReactionRow>(`DELETE FROM reactions WHERE id = $1 AND project_id = $2 RETURNING ${COLUMNS}`, [id, projectId])
        if (!rows[0]) return false
        const deleted = toReaction(rows[0])
        await audit(client, ctx, 'reaction.deleted', deleted, { name: deleted.name })
        return true
      })
    },

    async version(): Promise<number> {
      const { rows } = await pg.query<{ version: string }>('SELECT version FROM reaction_rules_version')
      return Number(rows[0]!.version)
    },

    /** Every enabled rule with the version it was read at (read in one snapshot). */
    async loadEnabled(): Promise<{ version: number; reactions: Reaction[] }> {
      const client = await pg.connect()
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
        const v = await client.query<{ version: string }>('SELECT version FROM reaction_rules_version')
        const { rows } = await client.query<ReactionRow>(`SELECT ${COLUMNS} FROM reactions WHERE enabled`)
        await client.query('COMMIT')
        return { version: Number(v.rows[0]!.version), reactions: rows.map(toReaction) }
      } finally {
        client.release()
      }
    },
  }
}

export type ReactionStore = ReturnType<typeof createReactionStore>
