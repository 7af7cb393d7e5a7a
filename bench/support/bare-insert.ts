/**
 * Baseline B of the processor bench: the rows the processor role stores for these events (runs-funnel's
 * run_starts, steps, run_completions and run_state_input; the logs processor's logs), built by the processors' own row
 * builders and inserted in large batches, in the same format, into a fresh embedded ClickHouse with
 * nothing else: no state lookups, no rollup, no markers, no Kafka.
 */
import type { EventCodec } from '../../lib/avro/event-codec.ts'
import { insertCompactRows, type ClickHouseClient, type ClickhouseTables } from '../../lib/clickhouse.ts'
import type { EventEnvelope } from '../../lib/event-types.ts'
import { LOG_COLUMNS, logRow } from '../../processors/logs/logs-processor.ts'
import {
  COMPLETION_COLUMNS,
  completionRow,
  RUN_START_COLUMNS,
  runStartRow,
  STEP_COLUMNS,
  stepRow,
} from '../../processors/runs-funnel/funnel-store.ts'
import { RUN_STATE_INPUT_COLUMNS, runStateRows } from '../../processors/runs-funnel/run-state-rows.ts'
import type { RetainedMessage } from './bare-consumer.ts'

export interface BareRows {
  runStarts: unknown[][]
  steps: unknown[][]
  completions: unknown[][]
  runState: unknown[][]
  logs: unknown[][]
}

type Of<T extends EventEnvelope['type']> = { partition: number; offset: number; event: Extract<EventEnvelope, { type: T }> }

/** Decodes every message with the project's codec and builds the rows the processors would insert. */
export async function buildRows(codec: EventCodec, messages: readonly RetainedMessage[]): Promise<BareRows> {
  const stored: Parameters<typeof runStateRows>[0] = { runStarts: [], steps: [], completions: [] }
  const logs: unknown[][] = []
  for (const m of messages) {
    const e = await codec.decode(m.value)
    const at = { partition: m.partition, offset: m.offset }
    switch (e.type) {
      case 'run_start':
        stored.runStarts.push({ ...at, event: e } as Of<'run_start'>)
        break
      case 'step_complete':
        stored.steps.push({ ...at, event: e } as Of<'step_complete'>)
        break
      case 'run_complete':
        stored.completions.push({ ...at, event: e } as Of<'run_complete'>)
        break
      case 'log':
        logs.push(logRow({ ...at, event: e }))
        break
    }
  }
  return {
    runStarts: stored.runStarts.map(runStartRow),
    steps: stored.steps.map(stepRow),
    completions: stored.completions.map(completionRow),
    runState: runStateRows(stored),
    logs,
  }
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
  const work: Array<[string, readonly string[], unknown[][]]> = [
    [tables.runStarts, RUN_START_COLUMNS, rows.runStarts],
    [tables.steps, STEP_COLUMNS, rows.steps],
    [tables.runCompletions, COMPLETION_COLUMNS, rows.completions],
    [tables.runStateInput, RUN_STATE_INPUT_COLUMNS, rows.runState],
    [tables.logs, LOG_COLUMNS, rows.logs],
  ]
  for (const [table, columns, values] of work) {
    for (let i = 0; i < values.length; i += rowsPerInsert) {
      // The processors' own insert path (lib/clickhouse.ts), so the floor is measured the same way.
      await insertCompactRows(client, { table, columns, rows: values.slice(i, i + rowsPerInsert), settings: { input_format_parallel_parsing: 0 } })
      inserts++
    }
  }
  return { seconds: (performance.now() - t0) / 1000, inserts }
}
