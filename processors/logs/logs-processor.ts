import type { EventCodec } from '../../lib/avro/event-codec.ts'
import type { ClickHouseClient, ClickhouseTables } from '../../lib/clickhouse.ts'
import { LOG_LEVELS, type EventType, type LogPayload } from '../../lib/event-types.ts'
import type { ConsumedBatch, EventConsumer } from '../../lib/kafka/event-consumer.ts'
import type { Logger } from '../../lib/logger.ts'
import type { Metrics } from '../../lib/metrics.ts'
import type { DeadLetterSink } from '../dead-letter.ts'
import { decodeBatch, isResend, type KafkaPosition, type PositionedEvent } from '../positioned-events.ts'

const PROCESSOR = 'logs'
const LOG_TYPE: ReadonlySet<EventType> = new Set(['log'])
const INSERT_SETTINGS = { date_time_input_format: 'best_effort' } as const

/**
 * Consumes `log` events into the ClickHouse logs table, each log id once: ids already stored from
 * an earlier Kafka position are resends and are skipped; the rest is inserted before the commit.
 */
export function createLogsProcessor(deps: {
  consumer: EventConsumer
  codec: EventCodec
  clickhouse: ClickHouseClient
  tables: ClickhouseTables
  deadLetter: DeadLetterSink
  metrics: Metrics
  logger: Logger
}) {
  const { consumer, codec, clickhouse, tables, deadLetter, metrics } = deps
  const logger = deps.logger.child({ processor: PROCESSOR })

  async function storedPositions(logs: PositionedEvent[]): Promise<Map<string, KafkaPosition>> {
    const rs = await clickhouse.query({
      query: `SELECT project_id, log_id, kafka_partition AS partition, kafka_offset AS offset FROM ${tables.logs}
              WHERE project_id IN {p:Array(String)} AND log_id IN {ids:Array(String)}`,
      query_params: { p: [...new Set(logs.map((l) => l.event.project_id))], ids: logs.map((l) => l.event.id) },
      format: 'JSONEachRow',
    })
    const rows = await rs.json<{ project_id: string; log_id: string; partition: number; offset: number }>()
    return new Map(rows.map((r) => [`${r.project_id}\u0000${r.log_id}`, { partition: Number(r.partition), offset: Number(r.offset) }]))
  }

  async function handleBatch(batch: ConsumedBatch): Promise<void> {
    const end = metrics.processorBatchDuration.startTimer({ processor: PROCESSOR })
    const { events, letters, skipped } = await decodeBatch(codec, batch, LOG_TYPE)
    await deadLetter(batch, letters)
    const logs = events.filter((e) => e.event.type === 'log')
    metrics.processorMessages.inc({ processor: PROCESSOR, outcome: 'ignored' }, skipped + events.length - logs.length)
    if (logs.length === 0) {
      end()
      return
    }
    const stored = await storedPositions(logs)
    const rows = []
    let duplicates = 0
    for (const pe of logs) {
      const k = `${pe.event.project_id}\u0000${pe.event.id}`
      if (isResend(stored.get(k), pe)) {
        duplicates++
        continue
      }
      stored.set(k, pe)
      rows.push(logRow(pe))
    }
    if (rows.length > 0) {
      const endInsert = metrics.clickhouseInsertDuration.startTimer({ table: 'logs' })
      await clickhouse.insert({ table: tables.logs, values: rows, format: 'JSONEachRow', clickhouse_settings: INSERT_SETTINGS })
      endInsert()
    }
    metrics.processorMessages.inc({ processor: PROCESSOR, outcome: 'stored' }, rows.length)
    metrics.processorMessages.inc({ processor: PROCESSOR, outcome: 'duplicate' }, duplicates)
    logger.debug({ topic: batch.topic, partition: batch.partition, stored: rows.length, duplicates, seconds: end() }, 'logs stored')
  }

  return {
    start: () => consumer.start(handleBatch),
    stop: () => consumer.stop(),
  }
}

function logRow({ event: e, partition, offset }: PositionedEvent) {
  const p = e.payload as LogPayload
  return {
    project_id: e.project_id,
    log_id: e.id,
    timestamp: new Date(e.timestamp).toISOString(),
    level: p.level,
    level_rank: LOG_LEVELS.indexOf(p.level),
    service: p.service,
    message: p.message,
    attributes: JSON.stringify(p.attributes),
    run_id: p.run_id,
    received_at: new Date(e.received_at).toISOString(),
    kafka_partition: partition,
    kafka_offset: offset,
  }
}
