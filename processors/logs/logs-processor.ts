import { insertCompactRows, type ClickHouseClient, type ClickhouseTables } from '../../lib/clickhouse.ts'
import { LOG_LEVELS, type LogPayload } from '../../lib/event-types.ts'
import type { Metrics } from '../../lib/metrics.ts'
import { defineProcessor, type ProcessorInstance } from '../define-processor.ts'
import { isResend, type KafkaPosition, type PositionedEvent } from '../positioned-events.ts'

// Compact rows (arrays in column order), DateTime64 columns as integer epoch milliseconds: see funnel-store.ts.
export const LOG_COLUMNS = [
  'project_id', 'log_id', 'timestamp', 'level', 'level_rank', 'service', 'message', 'attributes', 'run_id', 'received_at', 'kafka_partition', 'kafka_offset',
] as const

/**
 * `log` events → the ClickHouse logs table, each log id once: ids already stored from an earlier
 * Kafka position are resends, ids stored from this very position were stored by an earlier attempt
 * of the fetch (a retry, or a replay after a crash); both are skipped, the rest is inserted in one
 * INSERT per flush. It reads the runs-funnel group's fetches (see registry.ts).
 */
export const logsProcessor = defineProcessor({
  name: 'logs',
  group: (config) => config.processor.runsFunnelGroup,
  eventTypes: ['log'],
  uses: ['clickhouse'],
  create: ({ services }) => createLogsHandler({ clickhouse: services.clickhouse, tables: services.tables, metrics: services.metrics }),
})

export function createLogsHandler(deps: { clickhouse: ClickHouseClient; tables: ClickhouseTables; metrics: Metrics }): ProcessorInstance {
  const { clickhouse, tables, metrics } = deps

  async function storedPositions(logs: readonly PositionedEvent[]): Promise<Map<string, KafkaPosition>> {
    const rs = await clickhouse.query({
      query: `SELECT project_id, log_id, kafka_partition AS partition, kafka_offset AS offset FROM ${tables.logs}
              WHERE project_id IN {p:Array(String)} AND log_id IN {ids:Array(String)}`,
      query_params: { p: [...new Set(logs.map((l) => l.event.project_id))], ids: logs.map((l) => l.event.id) },
      format: 'JSONEachRow',
    })
    const rows = await rs.json<{ project_id: string; log_id: string; partition: number; offset: number }>()
    return new Map(rows.map((r) => [`${r.project_id}\u0000${r.log_id}`, { partition: Number(r.partition), offset: Number(r.offset) }]))
  }

  return {
    async probe() {
      const r = await clickhouse.ping()
      if (!r.success) throw r.error
    },
    async handle({ events }) {
      const stored = await storedPositions(events)
      const rows = []
      let duplicate = 0
      let skipped = 0
      for (const pe of events) {
        const k = `${pe.event.project_id}\u0000${pe.event.id}`
        const at = stored.get(k)
        if (isResend(at, pe)) {
          duplicate++
          continue
        }
        if (at) {
          skipped++
          continue
        }
        stored.set(k, pe)
        rows.push(logRow(pe))
      }
      if (rows.length > 0) {
        const end = metrics.clickhouseInsertDuration.startTimer({ table: 'logs' })
        await insertCompactRows(clickhouse, { table: tables.logs, columns: LOG_COLUMNS, rows })
        end()
      }
      return { stored: rows.length, duplicate, skipped }
    },
  }
}

/** A logs row in LOG_COLUMNS order. */
export function logRow({ event: e, partition, offset }: PositionedEvent): unknown[] {
  const p = e.payload as LogPayload
  return [
    e.project_id, e.id, e.timestamp, p.level, LOG_LEVELS.indexOf(p.level), p.service, p.message, JSON.stringify(p.attributes), p.run_id,
    e.received_at, partition, offset,
  ]
}
