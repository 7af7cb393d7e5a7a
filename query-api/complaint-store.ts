import { ConflictError } from '../lib/errors.ts'
import { COMPLAINT_COLUMNS, complaintJson, type ComplaintJson, type ComplaintRow } from '../lib/complaint-json.ts'
import { writeAudit, type AuditContext } from '../lib/audit/audit-store.ts'
import { withTransaction, type PgPool } from '../lib/postgres.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export type ComplaintStatus = 'open' | 'acknowledged' | 'resolved'

interface DeliveryRow {
  id: string
  action: string
  url: string
  status: string
  attempts: number
  last_status_code: number | null
  last_error: string | null
  next_attempt_at: Date
  created_at: Date
  updated_at: Date
}

/** Complaints and their deliveries, always scoped to one project. */
export function createComplaintStore(pg: PgPool) {
  return {
    async list(projectId: string, q: { status?: ComplaintStatus | undefined; limit: number; after?: readonly [string, string] | null }): Promise<ComplaintJson[]> {
      const { rows } = await pg.query<ComplaintRow>(
        `SELECT ${COMPLAINT_COLUMNS} FROM complaints
         WHERE project_id = $1 AND ($2::text IS NULL OR status = $2)
           AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::uuid))
         ORDER BY created_at DESC, id DESC LIMIT $5`,
        [projectId, q.status ?? null, q.after?.[0] ?? null, q.after?.[1] ?? null, q.limit],
      )
      return rows.map(complaintJson)
    },

    async get(projectId: string, id: string): Promise<ComplaintJson | null> {
      if (!UUID.test(id)) return null
      const { rows } = await pg.query<ComplaintRow>(`SELECT ${COMPLAINT_COLUMNS} FROM complaints WHERE id = $1 AND project_id = $2`, [id, projectId])
      return rows[0] ? complaintJson(rows[0]) : null
    },

    /**
     * Status and note only. Resolving stamps `resolved_at`; reopening clears it. Writes one
     * `complaint.updated` audit row (status and note, from → to) in the same transaction.
     */
    async update(
      projectId: string,
      id: string,
      change: { status?: ComplaintStatus | undefined; note?: string | null | undefined },
      ctx: AuditContext,
    ): Promise<ComplaintJson | null> {
      if (!UUID.test(id)) return null
      try {
        return await withTransaction(pg, async (client) => {
          const before = await client.query<{ status: string; note: string | null }>(
            'SELECT status, note FROM complaints WHERE id = $1 AND project_id = $2 FOR UPDATE',
            [id, projectId],
          )
          if (!before.rows[0]) return null
          const { rows } = await client.query<ComplaintRow>(
            `UPDATE complaints SET
               status = coalesce($3, status),
               note = CASE WHEN $4::boolean THEN $5 ELSE note END,
               resolved_at = CASE WHEN $3 = 'resolved' AND status <> 'resolved' THEN now()
                                  WHEN $3 IN ('open', 'acknowledged') THEN NULL ELSE resolved_at END,
               updated_at = now()
             WHERE id = $1 AND project_id = $2 RETURNING ${COMPLAINT_COLUMNS}`,
            [id, projectId, change.status ?? null, change.note !== undefined, change.note ?? null],
          )
          const updated = complaintJson(rows[0]!)
          const changes: Record<string, { from: unknown; to: unknown }> = {}
          if (before.rows[0].status !== updated.status) changes.status = { from: before.rows[0].status, to: updated.status }
          if (before.rows[0].note !== updated.note) changes.note = { from: before.rows[0].note, to: updated.note }
          await writeAudit(client, { ...ctx, action: 'complaint.updated', target: { type: 'complaint', id }, projectId, changes })
          return updated
        })
      } catch (err) {
        if ((err as { code?: string }).code === '23505') {
          throw new ConflictError('Another complaint with this fingerprint is open or acknowledged; resolve it first')
        }
        throw err
      }
    },

    /** Oldest first; `after` is the (created_at, id) of the last delivery of the previous page. */
    async deliveries(projectId: string, complaintId: string, page: { limit: number; after?: readonly [string, string] | null }) {
      const { rows } = await pg.query<DeliveryRow>(
        `SELECT id, action, url, status, attempts, last_status_code, last_error, next_attempt_at, created_at, updated_at
         FROM deliveries WHERE complaint_id = $1 AND project_id = $2
           AND ($3::timestamptz IS NULL OR (created_at, id) > ($3::timestamptz, $4::uuid))
         ORDER BY created_at, id LIMIT $5`,
        [complaintId, projectId, page.after?.[0] ?? null, page.after?.[1] ?? null, page.limit],
      )
      return rows.map((d) => ({
        id: d.id,
        action: d.action,
        url: d.url,
        status: d.status,
        attempts: d.attempts,
        last_status_code: d.last_status_code,
        last_error: d.last_error,
        next_attempt_at: d.status === 'pending' ? d.next_attempt_at.toISOString() : null,
        created_at: d.created_at.toISOString(),
        updated_at: d.updated_at.toISOString(),
      }))
    },
  }
}

export type ComplaintStore = ReturnType<typeof createComplaintStore>
