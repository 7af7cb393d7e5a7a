import { randomUUID } from 'node:crypto'
import type { PoolClient } from 'pg'
import { COMPLAINT_COLUMNS, complaintJson, type ComplaintRow } from '../../lib/complaint-json.ts'
import type { Metrics } from '../../lib/metrics.ts'
import type { PgPool } from '../../lib/postgres.ts'
import type { Reaction } from '../../lib/reactions/reaction-store.ts'

/** One event matched by one rule. */
export interface RuleMatch {
  reaction: Reaction
  eventId: string
  fingerprint: string
  group: Record<string, unknown>
  /** When Sluice received the event: the sliding window's clock. */
  receivedAt: number
  sampleEvent: unknown
}

export interface WriteOutcome {
  counted: number
  duplicates: number
  opened: Array<{ complaintId: string; deliveries: number }>
}

/**
 * Applies matches to complaints in Postgres, one transaction per fingerprint, serialized by an
 * advisory lock on the fingerprint (another partition may see the same one).
 *
 * TRICKY: the (reaction, event id) primary key of reaction_matches is what makes a resent or
 * replayed event count once; the partial unique index on complaints is what makes "one open or
 * acknowledged complaint per fingerprint" hold even if this code is wrong.
 */
export function createComplaintWriter(options: { pg: PgPool; metrics: Metrics }) {
  const { pg, metrics } = options

  async function applyOne(client: PoolClient, m: RuleMatch, outcome: WriteOutcome): Promise<void> {
    const at = new Date(m.receivedAt)
    const inserted = await client.query(
      `INSERT INTO reaction_matches (reaction_id, event_id, fingerprint, received_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (reaction_id, event_id) DO NOTHING`,
      [m.reaction.id, m.eventId, m.fingerprint, at],
    )
    if (inserted.rowCount === 0) {
      outcome.duplicates++
      return
    }
    outcome.counted++
    const active = await client.query<{ id: string }>(
      `SELECT id FROM complaints WHERE fingerprint = $1 AND status IN ('open', 'acknowledged') FOR UPDATE`,
      [m.fingerprint],
    )
    if (active.rows[0]) {
      const id = active.rows[0].id
      await client.query(
        `UPDATE complaints SET occurrences = occurrences + 1, last_seen_at = greatest(last_seen_at, $2), updated_at = now() WHERE id = $1`,
        [id, at],
      )
      await client.query('UPDATE reaction_matches SET complaint_id = $1 WHERE reaction_id = $2 AND event_id = $3', [id, m.reaction.id, m.eventId])
      return
    }
    const windowStart = new Date(m.receivedAt - m.reaction.threshold.window_seconds * 1000)
    const window = await client.query<{ n: string; first: Date }>(
      `SELECT count(*) AS n, min(received_at) AS first FROM reaction_matches
       WHERE fingerprint = $1 AND complaint_id IS NULL AND received_at > $2 AND received_at <= $3`,
      [m.fingerprint, windowStart, at],
    )
    const n = Number(window.rows[0]!.n)
    if (n < m.reaction.threshold.count) return
    if (m.reaction.cooldown_seconds > 0) {
      const last = await client.query<{ created_at: Date }>(
        'SELECT created_at FROM complaints WHERE fingerprint = $1 ORDER BY created_at DESC LIMIT 1',
        [m.fingerprint],
      )
      const lastAt = last.rows[0]?.created_at.getTime()
      if (lastAt !== undefined && m.receivedAt - lastAt < m.reaction.cooldown_seconds * 1000) return
    }
    const id = randomUUID()
    const { rows } = await client.query<ComplaintRow>(
      `INSERT INTO complaints (id, project_id, reaction_id, fingerprint, "group", title, severity, status, occurrences,
         first_seen_at, last_seen_at, sample_event)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10, $11) RETURNING ${COMPLAINT_COLUMNS}`,
      [id, m.reaction.project_id, m.reaction.id, m.fingerprint, JSON.stringify(m.group), titleOf(m), m.reaction.severity, n, window.rows[0]!.first, at, JSON.stringify(m.sampleEvent)],
    )
    await client.query(
      `UPDATE reaction_matches SET complaint_id = $1
       WHERE fingerprint = $2 AND complaint_id IS NULL AND received_at > $3 AND received_at <= $4`,
      [id, m.fingerprint, windowStart, at],
    )
    const complaint = complaintJson(rows[0]!)
    let deliveries = 0
    for (const action of m.reaction.actions) {
      if (action.type !== 'webhook') continue
      const body = JSON.stringify({
        event: 'complaint.created',
        complaint,
        reaction: { id: m.reaction.id, name: m.reaction.name },
        project_id: m.reaction.project_id,
      })
      await client.query(
        `INSERT INTO deliveries (id, project_id, complaint_id, reaction_id, action, url, secret, event, body)
         VALUES ($1, $2, $3, $4, 'webhook', $5, $6, 'complaint.created', $7)`,
        [randomUUID(), m.reaction.project_id, id, m.reaction.id, action.url, action.secret ?? '', body],
      )
      deliveries++
    }
    metrics.complaintsOpened.inc({ severity: m.reaction.severity })
    outcome.opened.push({ complaintId: id, deliveries })
  }

  return async function writeMatches(matches: readonly RuleMatch[]): Promise<WriteOutcome> {
    const outcome: WriteOutcome = { counted: 0, duplicates: 0, opened: [] }
    const byFingerprint = new Map<string, RuleMatch[]>()
    for (const m of matches) {
      const list = byFingerprint.get(m.fingerprint) ?? []
      list.push(m)
      byFingerprint.set(m.fingerprint, list)
    }
    // Sorted, so two processors locking several fingerprints never wait on each other in a cycle.
    for (const fingerprint of [...byFingerprint.keys()].sort()) {
      const client = await pg.connect()
      try {
        await client.query('BEGIN')
        await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [fingerprint])
        for (const m of byFingerprint.get(fingerprint)!) await applyOne(client, m, outcome)
        await client.query('COMMIT')
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {})
        throw err
      } finally {
        client.release()
      }
    }
    metrics.ruleMatches.inc({ result: 'counted' }, outcome.counted)
    metrics.ruleMatches.inc({ result: 'duplicate' }, outcome.duplicates)
    return outcome
  }
}

function titleOf(m: RuleMatch): string {
  const parts = Object.entries(m.group).map(([k, v]) => `${k}=${String(v)}`)
  return parts.length > 0 ? `${m.reaction.name} (${parts.join(', ')})` : m.reaction.name
}

/** Matches older than the longest window allowed (7 days) plus a day can no longer count. */
export async function pruneMatches(pg: PgPool): Promise<number> {
  const { rowCount } = await pg.query(`DELETE FROM reaction_matches WHERE received_at < now() - interval '8 days'`)
  return rowCount ?? 0
}
