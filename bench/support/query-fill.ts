/**
 * Fills ClickHouse for the query bench through the processors' own code: the runs-funnel planner and
 * store (raw rows, rollup deltas, and whatever the migrations hang off those tables) and the logs
 * processor's row builder. Run as a child process (`node bench/support/query-fill.ts '<json>'`), so
 * the embedded engine's data directory is free for the query role afterwards. Prints one JSON line
 * with its figures on stdout.
 */
import { createClickhouseClient, clickhouseTables, insertCompactRows } from '../../lib/clickhouse.ts'
import { createLogger } from '../../lib/logger.ts'
import { createMetrics } from '../../lib/metrics.ts'
import { runMigrations } from '../../lib/migrate.ts'
import { LOG_COLUMNS, logRow } from '../../processors/logs/logs-processor.ts'
import type { PositionedEvent } from '../../processors/positioned-events.ts'
import { planBatch } from '../../processors/runs-funnel/batch-plan.ts'
import { createFunnelStore } from '../../processors/runs-funnel/funnel-store.ts'
import { runEvents, type DatasetProject } from './query-dataset.ts'

export interface FillOptions {
  clickhouse: { url: string | undefined; user: string; password: string; chdbPath: string; database: string }
  projects: DatasetProject[]
  /** Runs per store write (one processor flush). */
  chunkRuns: number
}

const PARTITIONS = 6

async function fill(o: FillOptions) {
  const client = createClickhouseClient(o.clickhouse)
  const tables = clickhouseTables(o.clickhouse.database)
  await runMigrations({ pg: undefined, clickhouse: client, clickhouseDatabase: o.clickhouse.database, logger: createLogger({ level: 'silent' }) })
  const store = createFunnelStore({ client, tables, metrics: createMetrics() })
  const offsets = new Array<number>(PARTITIONS).fill(0)
  const empty = { runStarts: [], steps: [], completions: [] }
  let runs = 0
  let steps = 0
  let logs = 0
  let storeMs = 0
  const t0 = performance.now()
  for (const p of o.projects) {
    for (let first = 0; first < p.runs; first += o.chunkRuns) {
      const events: PositionedEvent[] = []
      const logRows: unknown[][] = []
      for (let i = first; i < Math.min(p.runs, first + o.chunkRuns); i++) {
        const partition = i % PARTITIONS
        const { run, log } = runEvents(p, i)
        for (const event of run) events.push({ event, partition, offset: offsets[partition]!++ })
        logRows.push(logRow({ event: log, partition, offset: offsets[partition]!++ }))
        runs++
        steps += p.stepsPerRun
        logs++
      }
      const plan = planBatch(events, empty)
      const s0 = performance.now()
      await store.write(plan, [])
      await insertCompactRows(client, { table: tables.logs, columns: LOG_COLUMNS, rows: logRows })
      storeMs += performance.now() - s0
      if (runs % (o.chunkRuns * 50) === 0) process.stderr.write(`[bench] filled ${runs} runs (${Math.round((performance.now() - t0) / 1000)} s)\n`)
    }
  }
  const seconds = (performance.now() - t0) / 1000
  // A store that has been running for a while has merged what it holds: wait for the background
  // merges of the fill to end (10 minutes at most), so the query role does not measure them.
  const s0 = performance.now()
  await client.command({ query: `OPTIMIZE TABLE ${tables.funnelRollup}` }).catch(() => {})
  for (let quiet = 0; quiet < 3 && performance.now() - s0 < 600_000; ) {
    await new Promise((resolve) => setTimeout(resolve, 2000))
    const rs = await client.query({ query: `SELECT count() AS n FROM system.merges WHERE database = {db:String}`, query_params: { db: o.clickhouse.database }, format: 'JSONEachRow' })
    const [{ n }] = (await rs.json<{ n: number }>()) as [{ n: number }]
    quiet = Number(n) === 0 ? quiet + 1 : 0
  }
  const settleSeconds = (performance.now() - s0) / 1000
  await client.close()
  return { runs, steps, logs, seconds, storeSeconds: storeMs / 1000, settleSeconds }
}

const options = JSON.parse(process.argv[2] ?? '{}') as FillOptions
fill(options).then(
  (r) => {
    process.stdout.write(`${JSON.stringify(r)}\n`)
    process.exit(0)
  },
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
