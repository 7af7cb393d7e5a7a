import { randomUUID } from 'node:crypto'
import type { PgClient, PgPool } from '../postgres.ts'

/** A parked message as `GET /api/ops/dead-letters` shows it. */
export interface DeadLetterRecord {
  id: string
  topic: string
  partition: number
  offset: number
  processor: string
  reason: string
  error: string
  project_id: string | null
  event_id: string | null
  event_type: string | null
  dead_lettered_at: string
  size: number
  replayed_at: string | null
}

export interface NewDeadLetter {
  topic: string
  partition: number
  offset: number
  processor: string
  reason: string
  error: string
  projectId: string | null
  eventId: string | null
  eventType: string | null
  key: Buffer | null
  value: Buffer
  headers: Record<string, string>
}

/** The original message of a dead letter, to produce again. */
export interface ParkedMessage {
  id: string
  key: Buffer | null
  value: Buffer
  headers: Record<string, string>
}

interface Row {
  id: string
  topic: string
  kafka_partition: number
  kafka_offset: string
  processor: string
  reason: string
  error: string
  project_id: string | null
  event_id: string | null
  event_type: string | null
  dead_lettered_at: Date
  size: number
  replayed_at: Date | null
}

const COLUMNS = `id, topic, kafka_partition, kafka_offset, processor, reason, error, project_id, event_id, event_type,
  dead_lettered_at, octet_length(message_value) AS size, replayed_at`

/** The one owner of the `dead_letters` table. */
export function createDeadLetterStore(pg: PgPool) {
  return {
    /** Records parked messages; a message a processor parked before (a replayed fetch) is kept once. */
    async add(letters: readonly NewDeadLetter[]): Promise<string[]> {
      const ids: string[] = []
      for (const l of letters) {
        const id = randomUUID()
        const { rows } = await pg.query<{ id: string }>(
          `INSERT INTO dead_letters (id, topic, kafka_partition, kafka_offset, processor, reason, error, project_id, event_id, event_type,
             message_key, message_value, headers)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (processor, topic, kafka_partition, kafka_offset) DO UPDATE SET reason = EXCLUDED.reason
           RETURNING id`,
          [id, l.topic, l.partition, l.offset, l.processor, l.reason, l.error, l.projectId, l.eventId, l.eventType, l.key, l.value, JSON.stringify(l.headers)],
        )
        ids.push(rows[0]!.id)
      }
      return ids
    },

    async list(o: { limit: number; after: [string, string] | null }): Promise<DeadLetterRecord[]> {
      const params: unknown[] = [o.limit]
      let where = ''
      if (o.after) {
        params.push(o.after[0], o.after[1])
        where = 'WHERE (dead_lettered_at, id) < ($2::timestamptz, $3::uuid)'
      }
      const { rows } = await pg.query<Row>(`SELECT ${COLUMNS} FROM dead_letters ${where} ORDER BY dead_lettered_at DESC, id DESC LIMIT $1`, params)
      return rows.map(toRecord)
    },

    /** Locks the messages to replay (all not yet replayed, or the given ids) in the caller's transaction. */
    async lockForReplay(client: PgClient, ids: readonly string[] | 'all'): Promise<{ found: string[]; messages: ParkedMessage[] }> {
      const { rows } = await client.query<{ id: string; message_key: Buffer | null; message_value: Buffer; headers: Record<string, string>; replayed_at: Date | null }>(
        ids === 'all'
          ? 'SELECT id, message_key, message_value, headers, replayed_at FROM dead_letters WHERE replayed_at IS NULL ORDER BY dead_lettered_at, id FOR UPDATE'
          : 'SELECT id, message_key, message_value, headers, replayed_at FROM dead_letters WHERE id = ANY($1::uuid[]) ORDER BY dead_lettered_at, id FOR UPDATE',
        ids === 'all' ? [] : [ids],
      )
      return {
        found: rows.map((r) => r.id),
        messages: rows.filter((r) => r.replayed_at === null).map((r) => ({ id: r.id, key: r.message_key, value: r.message_value, headers: r.headers })),
      }
    },

    async markReplayed(client: PgClient, ids: readonly string[]): Promise<void> {
      if (ids.length > 0) await client.query('UPDATE dead_letters SET replayed_at = now() WHERE id = ANY($1::uuid[])', [ids])
    },
  }
}

export type DeadLetterStore = ReturnType<typeof createDeadLetterStore>

function toRecord(r: Row): DeadLetterRecord {
  return {
    id: r.id,
    topic: r.topic,
    partition: r.kafka_partition,
    offset: Number(r.kafka_offset),
    processor: r.processor,
    reason: r.reason,
    error: r.error,
    project_id: r.project_id,
    event_id: r.event_id,
    event_type: r.event_type,
    dead_lettered_at: r.dead_lettered_at.toISOString(),
    size: Number(r.size),
    replayed_at: r.replayed_at?.toISOString() ?? null,
  }
}
