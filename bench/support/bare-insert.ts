/**
 * Baseline B of the processor bench: the rows the processor role stores for these events (runs-funnel's
 * run_starts, steps and run_completions; the logs processor's logs), inserted in large batches into a
 * fresh embedded ClickHouse with nothing else: no state lookups, no rollup, no markers, no Kafka.
 *
 * The row builders of processors/ are not exported, so the rows are built here to the same shapes
 * (processors/runs-funnel/funnel-store.ts, processors/logs/logs-processor.ts) and the same insert
 * settings. Keep them in step with those files when a table changes.
 */
import type { EventCodec } from '../../lib/avro/event-codec.ts'
import type { ClickHouseClient, ClickhouseTables } from '../../lib/clickhouse.ts'
import { LOG_LEVELS, type EventEnvelope } from '../../lib/event-types.ts'
import type { RetainedMessage } from './bare-consumer.ts'

const INSERT_SETTINGS = { date_time_input_format: 'best_effort', input_format_parallel_parsing: 0 } as const

export interface BareRows {
  runStarts: object[]
  steps: object[]
  completions: object[]
  logs: object[]
}

/** Decodes every message with the project's codec and builds the rows the processors would insert. */
export async function buildRows(codec: EventCodec, messages: readonly RetainedMessage[]): Promise<BareRows> {
  const rows: BareRows = { runStarts: [], steps: [], completions: [], logs: [] }
  for (const m of messages) {
    const e = await codec.decode(m.value)
    const pos = { kafka_partition: m.partition, kafka_offset: m.offset }
    switch (e.type) {
      case 'run_start':
        rows.runStarts.push({
          project_id: e.project_id,
          run_id: e.payload.run_id,
          event_id: e.id,
          name: e.payload.name,
          tags: e.payload.tags,
          started_at: iso(e.payload.started_at ?? e.timestamp),
          received_at: iso(e.received_at),
          ...pos,
        })
        break
      case 'step_complete':
        rows.steps.push(stepRow(e, pos))
        break
      case 'run_complete':
        rows.completions.push({
          project_id: e.project_id,
          run_id: e.payload.run_id,
          event_id: e.id,
          status: e.payload.status,
          completed_at: iso(e.payload.completed_at ?? e.timestamp),
          error: e.payload.error,
          total_cost: e.payload.total_cost,
          received_at: iso(e.received_at),
          ...pos,
        })
        break
      case 'log':
        rows.logs.push({
          project_id: e.project_id,
          log_id: e.id,
          timestamp: iso(e.timestamp),
          level: e.payload.level,
          level_rank: LOG_LEVELS.indexOf(e.payload.level),
          service: e.payload.service,
          message: e.payload.message,
          attributes: JSON.stringify(e.payload.attributes),
          run_id: e.payload.run_id,
          received_at: iso(e.received_at),
          ...pos,
        })
        break
    }
  }
  return rows
}

function stepRow(e: Extract<EventEnvelope, { type: 'step_complete' }>, pos: object): object {
  const p = e.payload
  return {
    project_id: e.project_id,
    run_id: p.run_id,
    step_id: p.step_id,
    event_id: e.id,
    name: p.name,
    type: p.type,
    inputs: p.inputs,
    outputs: p.outputs,
    metadata: p.metadata,
    reasoning: p.reasoning,
    cost: p.cost,
    started_at: p.started_at === null ? null : iso(p.started_at),
    completed_at: p.completed_at === null ? null : iso(p.completed_at),
    error: p.error,
    input_count: p.input_count,
    output_count: p.output_count,
    rejection_reasons: p.rejection_reasons === null ? null : JSON.stringify(p.rejection_reasons),
    event_time: iso(e.timestamp),
    received_at: iso(e.received_at),
    ...pos,
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}

/** Inserts every table's rows, `rowsPerInsert` at a time, one insert after another. Resolves with seconds and inserts. */
export async function bareInsert(
  client: ClickHouseClient,
  tables: ClickhouseTables,
  rows: BareRows,
  rowsPerInsert: number,
): Promise<{ seconds: number; inserts: number }> {
  const t0 = performance.now()
  let inserts = 0
  const work: Array<[string, object[]]> = [
    [tables.runStarts, rows.runStarts],
    [tables.steps, rows.steps],
    [tables.runCompletions, rows.completions],
    [tables.logs, rows.logs],
  ]
  for (const [table, values] of work) {
    for (let i = 0; i < values.length; i += rowsPerInsert) {
      await client.insert({ table, values: values.slice(i, i + rowsPerInsert), format: 'JSONEachRow', clickhouse_settings: INSERT_SETTINGS })
      inserts++
    }
  }
  return { seconds: (performance.now() - t0) / 1000, inserts }
}
