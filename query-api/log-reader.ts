import type { ClickHouseClient, ClickhouseTables } from '../lib/clickhouse.ts'
import { LOG_LEVELS, type LogLevel } from '../lib/event-types.ts'
import { iso } from './query-params.ts'

export interface LogFilter {
  levels?: LogLevel[] | undefined
  minLevel?: LogLevel | undefined
  service?: string | undefined
  q?: string | undefined
  runId?: string | undefined
  from?: number | undefined
  to?: number | undefined
  before?: readonly [number, string] | undefined
  limit: number
}

interface LogRow {
  log_id: string
  ts: number
  level: string
  service: string | null
  message: string
  attributes: string
  run_id: string | null
  received: number
}

/** Reads logs of one project from ClickHouse (scoped by project id in every query). */
export function createLogReader(options: { client: ClickHouseClient; tables: ClickhouseTables }) {
  const { client, tables: t } = options

  function where(projectId: string, f: Omit<LogFilter, 'limit' | 'before'>) {
    const clauses = ['project_id = {p:String}']
    const params: Record<string, unknown> = { p: projectId }
    if (f.levels?.length) {
      clauses.push('level IN {levels:Array(String)}')
      params.levels = f.levels
    }
    if (f.minLevel) {
      clauses.push('level_rank >= {minRank:UInt8}')
      params.minRank = LOG_LEVELS.indexOf(f.minLevel)
    }
    if (f.service !== undefined) {
      clauses.push('service = {service:String}')
      params.service = f.service
    }
    if (f.q) {
      clauses.push('positionCaseInsensitiveUTF8(message, {q:String}) > 0')
      params.q = f.q
    }
    if (f.runId !== undefined) {
      clauses.push('run_id = {runId:String}')
      params.runId = f.runId
    }
    if (f.from !== undefined) {
      clauses.push("timestamp >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')")
      params.from = f.from
    }
    if (f.to !== undefined) {
      clauses.push("timestamp < fromUnixTimestamp64Milli({to:Int64}, 'UTC')")
      params.to = f.to
    }
    return { clauses, params }
  }

  return {
    /** Newest first; one more than `limit` is read to know whether another page exists. */
    async list(projectId: string, f: LogFilter) {
      const { clauses, params } = where(projectId, f)
      if (f.before) {
        // The first term is a key range (an OR alone would not narrow the read).
        clauses.push(
          "timestamp <= fromUnixTimestamp64Milli({bts:Int64}, 'UTC') AND (timestamp < fromUnixTimestamp64Milli({bts:Int64}, 'UTC') OR log_id < {bid:String})",
        )
        params.bts = f.before[0]
        params.bid = f.before[1]
      }
      // No FINAL (it costs more than the read): a log replayed into two rows not merged yet comes
      // twice in a row and its copy is dropped here; when that leaves the page short, the page is
      // read again with LIMIT 1 BY (rare: only until the background merge).
      const read = async (by: string) => {
        const rs = await client.query({
          query: `SELECT log_id, toUnixTimestamp64Milli(timestamp) AS ts, level, service, message, attributes, run_id,
                         toUnixTimestamp64Milli(received_at) AS received
                  FROM ${t.logs} WHERE ${clauses.join(' AND ')}
                  ORDER BY timestamp DESC, log_id DESC ${by} LIMIT {limit:UInt32}`,
          query_params: { ...params, limit: f.limit + 1 },
          format: 'JSONEachRow',
        })
        return rs.json<LogRow>()
      }
      const raw = await read('')
      const unique = raw.filter((r, i) => i === 0 || raw[i - 1]!.log_id !== r.log_id)
      const rows = unique.length === raw.length || raw.length <= f.limit ? unique : await read('LIMIT 1 BY log_id')
      return {
        hasMore: rows.length > f.limit,
        logs: rows.slice(0, f.limit).map((r) => ({
          id: r.log_id,
          timestamp: iso(r.ts)!,
          level: r.level,
          service: r.service,
          message: r.message,
          attributes: JSON.parse(r.attributes) as Record<string, unknown>,
          run_id: r.run_id,
          received_at: iso(r.received)!,
        })),
      }
    },

    /** Counts per interval bucket and level, oldest bucket first. */
    async stats(projectId: string, f: { intervalSeconds: number; from: number; to: number; service?: string | undefined }) {
      const { clauses, params } = where(projectId, { from: f.from, to: f.to, service: f.service })
      const rs = await client.query({
        query: `SELECT toUnixTimestamp(toStartOfInterval(timestamp, toIntervalSecond({step:UInt32}))) * 1000 AS ts, level, count() AS count
                FROM ${t.logs} FINAL WHERE ${clauses.join(' AND ')}
                GROUP BY ts, level ORDER BY ts, level`,
        query_params: { ...params, step: f.intervalSeconds },
        format: 'JSONEachRow',
      })
      const rows = await rs.json<{ ts: number; level: string; count: number }>()
      return rows.map((r) => ({ ts: iso(r.ts)!, level: r.level, count: Number(r.count) }))
    },
  }
}

export type LogReader = ReturnType<typeof createLogReader>
