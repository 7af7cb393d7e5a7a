/** A complaints row as Postgres returns it (pg turns timestamptz into Date, jsonb into values). */
export interface ComplaintRow {
  id: string
  project_id: string
  reaction_id: string
  fingerprint: string
  group: Record<string, unknown>
  title: string
  severity: string
  status: 'open' | 'acknowledged' | 'resolved'
  occurrences: string | number
  first_seen_at: Date
  last_seen_at: Date
  sample_event: unknown
  note: string | null
  created_at: Date
  updated_at: Date
  resolved_at: Date | null
}

export const COMPLAINT_COLUMNS = `id, project_id, reaction_id, fingerprint, "group", title, severity, status, occurrences,
  first_seen_at, last_seen_at, sample_event, note, created_at, updated_at, resolved_at`

/** The contract's Complaint, as the API returns it and the webhook body carries it. */
export function complaintJson(row: ComplaintRow) {
  return {
    id: row.id,
    project_id: row.project_id,
    reaction_id: row.reaction_id,
    fingerprint: row.fingerprint,
    group: row.group,
    title: row.title,
    severity: row.severity,
    status: row.status,
    occurrences: Number(row.occurrences),
    first_seen_at: row.first_seen_at.toISOString(),
    last_seen_at: row.last_seen_at.toISOString(),
    sample_event: row.sample_event ?? null,
    note: row.note,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    resolved_at: row.resolved_at?.toISOString() ?? null,
  }
}

export type ComplaintJson = ReturnType<typeof complaintJson>
