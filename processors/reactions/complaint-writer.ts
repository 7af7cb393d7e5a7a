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
 * advisory lock on the fingerprint (another partition may see the same one). The matches of one
 * fingerprint are applied together, in their order, with a fixed number of statements whatever
 * their count: the firing rules run in memory over the unassigned matches of the window, read once.
 *
 * TRICKY: the (reaction, event id) primary key of reaction_matches is what makes a resent or
 * replayed event count once; the partial unique index on complaints is what makes "one open or
 * acknowledged complaint per fingerprint" hold even if this code is wrong.
 */
export function createComplaintWriter(options: { pg: PgPool; metrics: Metrics }) {
  const { pg, metrics } = options

  async function applyGroup(client: PoolClient, fingerprint: string, list: readonly RuleMatch[], outcome: WriteOutcome): Promise<void> {
    const reaction = list[0]!.reaction
    // One round trip for what a fingerprint with an open complaint needs (most of them, once a rule
    // has fired): store the matches, count the new ones toward the complaint. Without one, the new
    // matches are stored unassigned and the window below decides. (Four statements before; the
    // reactions thread's CPU at 5k events/s changed within the spread: docs/performance.md.)
    const applied = await client.query<{ complaint_id: string | null; inserted: string[] }>(
      `WITH active AS (
         SELECT id FROM complaints WHERE fingerprint = $2 AND status IN ('open', 'acknowledged') FOR UPDATE
       ), ins AS (
         INSERT INTO reaction_matches (reaction_id, event_id, fingerprint, received_at, complaint_id)
         SELECT $1, e, $2, r, (SELECT id FROM active) FROM unnest($3::text[], $4::timestamptz[]) AS t(e, r)
         ON CONFLICT (reaction_id, event_id) DO NOTHING RETURNING event_id, received_at
       ), grown AS (
         UPDATE complaints SET occurrences = occurrences + (SELECT count(*) FROM ins),
           last_seen_at = greatest(last_seen_at, (SELECT max(received_at) FROM ins)), updated_at = now()
         WHERE id = (SELECT id FROM active) AND EXISTS (SELECT 1 FROM ins)
       )
       SELECT (SELECT id FROM active) AS complaint_id, ARRAY(SELECT event_id FROM ins) AS inserted`,
      [reaction.id, fingerprint, list.map((m) => m.eventId), list.map((m) => new Date(m.receivedAt))],
    )
    const isNew = new Set(applied.rows[0]!.inserted)
    const fresh: RuleMatch[] = []
    for (const m of list) {
      // The first of two copies in one batch is the one that counts.
      if (isNew.delete(m.eventId)) fresh.push(m)
      else outcome.duplicates++
    }
    outcome.counted += fresh.length
    if (fresh.length === 0 || applied.rows[0]!.complaint_id !== null) return

    // No open complaint: the matches not yet counted toward one, as the window sees them (those
    // stored before this batch, read once, plus this batch's, each added when its turn comes).
    let complaintId: string | null = null
    const windowMs = reaction.threshold.window_seconds * 1000
    let lastCreatedAt: number | undefined
    const minAt = fresh.reduce((min, m) => Math.min(min, m.receivedAt), Infinity)
    const stored = await client.query<{ event_id: string; received_at: Date }>(
      `SELECT event_id, received_at FROM reaction_matches
       WHERE fingerprint = $1 AND complaint_id IS NULL AND received_at > $2 AND NOT (event_id = ANY($3::text[]))
       ORDER BY received_at`,
      [fingerprint, new Date(minAt - windowMs), fresh.map((m) => m.eventId)],
    )
    let unassigned = stored.rows.map((r) => ({ eventId: r.event_id, at: r.received_at.getTime() }))
    if (reaction.cooldown_seconds > 0) {
      const last = await client.query<{ created_at: Date }>('SELECT created_at FROM complaints WHERE fingerprint = $1 ORDER BY created_at DESC LIMIT 1', [fingerprint])
      lastCreatedAt = last.rows[0]?.created_at.getTime()
    }

    const assign = new Map<string, string[]>() // complaint id → event ids
    const grow = new Map<string, { by: number; lastSeen: number }>()
    const addTo = (id: string, eventIds: string[], lastSeen: number) => {
      const ids = assign.get(id) ?? []
      ids.push(...eventIds)
      assign.set(id, ids)
      const g = grow.get(id) ?? { by: 0, lastSeen }
      g.by += eventIds.length
      g.lastSeen = Math.max(g.lastSeen, lastSeen)
      grow.set(id, g)
    }

    for (const m of fresh) {
      const at = m.receivedAt
      if (complaintId !== null) {
        addTo(complaintId, [m.eventId], at)
        continue
      }
      // Kept sorted by time, so the window is two binary searches, not a scan per match.
      unassigned.splice(upperBound(unassigned, at), 0, { eventId: m.eventId, at })
      const from = upperBound(unassigned, at - windowMs)
      const to = upperBound(unassigned, at)
      if (to - from < reaction.threshold.count) continue
      if (lastCreatedAt !== undefined && at - lastCreatedAt < reaction.cooldown_seconds * 1000) continue
      const inWindow = unassigned.slice(from, to)
      const id = randomUUID()
      const first = inWindow[0]!.at
      await openComplaint(client, m, id, inWindow.length, first, outcome)
      lastCreatedAt = Date.now()
      complaintId = id
      const taken = new Set(inWindow.map((u) => u.eventId))
      unassigned = unassigned.filter((u) => !taken.has(u.eventId))
      assign.set(id, [...taken])
      grow.set(id, { by: 0, lastSeen: at })
    }

    for (const [id, eventIds] of assign) {
      await client.query('UPDATE reaction_matches SET complaint_id = $1 WHERE reaction_id = $2 AND event_id = ANY($3::text[])', [id, reaction.id, eventIds])
    }
    for (const [id, g] of grow) {
      if (g.by === 0) continue
      await client.query(
        `UPDATE complaints SET occurrences = occurrences + $2, last_seen_at = greatest(last_seen_at, $3), updated_at = now() WHERE id = $1`,
        [id, g.by, new Date(g.lastSeen)],
      )
    }
  }

  async function openComplaint(client: PoolClient, m: RuleMatch, id: string, occurrences: number, firstSeen: number, outcome: WriteOutcome): Promise<void> {
    const { rows } = await client.query<ComplaintRow>(
      `INSERT INTO complaints (id, project_id, reaction_id, fingerprint, "group", title, severity, status, occurrences,
         first_seen_at, last_seen_at, sample_event)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10, $11) RETURNING ${COMPLAINT_COLUMNS}`,
      [id, m.reaction.project_id, m.reaction.id, m.fingerprint, JSON.stringify(m.group), titleOf(m), m.reaction.severity, occurrences, new Date(firstSeen), new Date(m.receivedAt), JSON.stringify(m.sampleEvent)],
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
        await applyGroup(client, fingerprint, byFingerprint.get(fingerprint)!, outcome)
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

/** The index of the first entry later than `at` in a list sorted by time. */
function upperBound(list: ReadonlyArray<{ at: number }>, at: number): number {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (list[mid]!.at <= at) lo = mid + 1
    else hi = mid
  }
  return lo
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
