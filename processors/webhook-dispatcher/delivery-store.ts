import type { PgPool } from '../../lib/postgres.ts'

/** A due delivery this dispatcher now holds the lease on. */
export interface ClaimedDelivery {
  id: string
  projectId: string
  complaintId: string
  reactionId: string
  action: string
  url: string
  secret: string
  event: string
  body: string
  /** Attempts made before this one. */
  attempts: number
}

export interface AttemptRecord {
  deliveryId: string
  /** 1-based; must be the claimed row's attempts + 1. */
  attempt: number
  startedAt: Date
  durationMs: number
  statusCode: number | null
  error: string | null
  /** The delivery's state after this attempt. */
  status: 'pending' | 'succeeded' | 'failed'
  /** When status stays pending: how long until the next attempt is due. */
  retryInMs?: number
}

export interface DeliveryStore {
  /**
   * Leases up to `limit` due pending deliveries to `owner` for `leaseMs`. Rows leased to anyone
   * else (and not expired) are never returned, so two dispatchers never send one delivery at once.
   */
  claimDue(owner: string, limit: number, leaseMs: number): Promise<ClaimedDelivery[]>
  /**
   * Stores one attempt and the delivery's new state, and releases the lease, in one transaction.
   * Returns false (and changes nothing) when `owner` no longer holds the lease.
   */
  recordAttempt(owner: string, record: AttemptRecord): Promise<boolean>
  /** Age in seconds of the oldest due pending delivery; 0 when none is waiting. */
  dispatcherLagSeconds(): Promise<number>
}

const MAX_ERROR_CHARS = 1_000

interface DeliveryRow {
  id: string
  project_id: string
  complaint_id: string
  reaction_id: string
  action: string
  url: string
  secret: string
  event: string
  body: string
  attempts: number
}

export function createDeliveryStore(deps: { pg: PgPool }): DeliveryStore {
  const { pg } = deps
  return {
    async claimDue(owner, limit, leaseMs) {
      if (limit <= 0) return []
      // TRICKY: SKIP LOCKED keeps two concurrent claims off each other's rows; a row one of them
      // leased and committed is re-checked by the other (READ COMMITTED re-evaluates the WHERE on
      // the new row version), and its unexpired lease_until keeps it out.
      const { rows } = await pg.query<DeliveryRow>(
        `WITH due AS (
           SELECT id FROM deliveries
           WHERE status = 'pending' AND next_attempt_at <= now()
             AND (lease_until IS NULL OR lease_until < now())
           ORDER BY next_attempt_at
           LIMIT $2
           FOR UPDATE SKIP LOCKED
         )
         UPDATE deliveries d
         SET lease_owner = $1, lease_until = now() + $3 * interval '1 millisecond'
         FROM due
         WHERE d.id = due.id
         RETURNING d.id, d.project_id, d.complaint_id, d.reaction_id, d.action, d.url, d.secret, d.event, d.body, d.attempts`,
        [owner, limit, leaseMs],
      )
      return rows.map((r) => ({
        id: r.id,
        projectId: r.project_id,
        complaintId: r.complaint_id,
        reactionId: r.reaction_id,
        action: r.action,
        url: r.url,
        secret: r.secret,
        event: r.event,
        body: r.body,
        attempts: r.attempts,
      }))
    },

    async recordAttempt(owner, record) {
      const client = await pg.connect()
      try {
        await client.query('BEGIN')
        // The lease and the attempt count both guard: a lease that expired and was taken over
        // (the other dispatcher's attempt is then the one on record) leaves this update with no row.
        const updated = await client.query(
          `UPDATE deliveries
           SET attempts = $3, status = $4, last_status_code = $5, last_error = $6,
               next_attempt_at = CASE WHEN $4 = 'pending' THEN now() + $7 * interval '1 millisecond' ELSE next_attempt_at END,
               lease_owner = NULL, lease_until = NULL, updated_at = now()
           WHERE id = $1 AND lease_owner = $2 AND attempts = $3 - 1 AND status = 'pending'`,
          [
            record.deliveryId,
            owner,
            record.attempt,
            record.status,
            record.statusCode,
            truncate(record.error),
            Math.max(0, Math.round(record.retryInMs ?? 0)),
          ],
        )
        if (updated.rowCount !== 1) {
          await client.query('ROLLBACK')
          return false
        }
        await client.query(
          `INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error)
           VALUES ($1, $2, $3, $4, $5, $6)`,
          [record.deliveryId, record.attempt, record.startedAt, Math.round(record.durationMs), record.statusCode, truncate(record.error)],
        )
        await client.query('COMMIT')
        return true
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {})
        throw err
      } finally {
        client.release()
      }
    },

    async dispatcherLagSeconds() {
      const { rows } = await pg.query<{ lag: number | null }>(
        `SELECT EXTRACT(EPOCH FROM now() - min(next_attempt_at))::float8 AS lag
         FROM deliveries WHERE status = 'pending' AND next_attempt_at <= now()`,
      )
      return Math.max(0, rows[0]?.lag ?? 0)
    },
  }
}

function truncate(text: string | null): string | null {
  return text === null || text.length <= MAX_ERROR_CHARS ? text : `${text.slice(0, MAX_ERROR_CHARS - 1)}…`
}
