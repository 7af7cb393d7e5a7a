/**
 * Embedded ClickHouse: do the processors' flushes and the query API's reads wait for each other?
 * One process, one fresh chdb directory, the real runs-funnel store and run reader: a writer loop
 * stores flushes of `--runs` new runs (7 events each) back to back, while `--pollers` readers each
 * ask `getRun` for a recently written run every `--poll-ms`. Prints flush and read latencies.
 * Run it once per `SLUICE_CHDB_INSERT_LANES` value (0, the default: inserts on the query session) and compare within the same minute:
 *
 *   for l in 0 1 2 0 1 2; do SLUICE_CHDB_INSERT_LANES=$l npm run bench:lanes; done
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { clickhouseTables, createClickhouseClient } from '../lib/clickhouse.ts'
import { createLogger } from '../lib/logger.ts'
import { createMetrics } from '../lib/metrics.ts'
import { runMigrations } from '../lib/migrate.ts'
import type { PositionedEvent } from '../processors/positioned-events.ts'
import { planBatch } from '../processors/runs-funnel/batch-plan.ts'
import { createFunnelStore } from '../processors/runs-funnel/funnel-store.ts'
import { createRunReader } from '../query-api/run-reader.ts'
import { removeBenchData } from './support/file-churn.ts'
import { percentile, sleep } from './support/load.ts'
import { runEvents, type DatasetProject } from './support/query-dataset.ts'

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '140' },
    flushes: { type: 'string', default: '150' },
    pollers: { type: 'string', default: '3' },
    'poll-ms': { type: 'string', default: '20' },
  },
})
const runsPerFlush = Number(args.runs)
const flushes = Number(args.flushes)
const pollers = Number(args.pollers)
const pollMs = Number(args['poll-ms'])

const dir = mkdtempSync(join(tmpdir(), 'sluice-lanes-'))
const database = 'sluice'
const insertLanes = Number(process.env.SLUICE_CHDB_INSERT_LANES ?? 0)
const client = createClickhouseClient({ url: undefined, user: 'default', password: '', chdbPath: join(dir, 'chdb'), insertLanes })
const tables = clickhouseTables(database)
await runMigrations({ pg: undefined, clickhouse: client, clickhouseDatabase: database, logger: createLogger({ level: 'silent' }) })
const store = createFunnelStore({ client, tables, metrics: createMetrics() })
const reader = createRunReader({ client, tables })
const now = Date.now()
const project: DatasetProject = { id: 'lanes', runs: runsPerFlush * flushes, stepsPerRun: 5, startMs: now - 3_600_000, endMs: now }

const written: string[] = []
const flushMs: number[] = []
const readMs: number[] = []
let writing = true

async function writer() {
  let offset = 0
  for (let f = 0; f < flushes; f++) {
    const events: PositionedEvent[] = []
    for (let i = f * runsPerFlush; i < (f + 1) * runsPerFlush; i++) {
      for (const event of runEvents(project, i).run) events.push({ event, partition: 0, offset: offset++ })
    }
    const t0 = performance.now()
    await store.write(planBatch(events, { runStarts: [], steps: [], completions: [] }), [{ group: 'lanes', topic: 't', partition: 0, offset: offset - 1 }])
    flushMs.push(performance.now() - t0)
    for (const e of events) if (e.event.type === 'run_start') written.push(e.event.payload.run_id)
  }
  writing = false
}

async function poller(k: number) {
  while (writing) {
    const t0 = performance.now()
    const id = written[Math.max(0, written.length - 1 - k)]
    if (id) {
      await reader.getRun(project.id, id)
      readMs.push(performance.now() - t0)
    }
    await sleep(Math.max(0, t0 + pollMs - performance.now()))
  }
}

const t0 = performance.now()
await Promise.all([writer(), ...Array.from({ length: pollers }, (_, k) => poller(k))])
const seconds = (performance.now() - t0) / 1000
const q = (xs: number[], p: number) => percentile(xs, p).toFixed(1)
console.log(
  `lanes=${insertLanes} flushes=${flushes} of ${runsPerFlush} runs in ${seconds.toFixed(1)} s; ` +
    `flush p50 ${q(flushMs, 0.5)} p99 ${q(flushMs, 0.99)} ms; getRun (${readMs.length}, ${pollers} pollers every ${pollMs} ms) p50 ${q(readMs, 0.5)} p99 ${q(readMs, 0.99)} ms`,
)
await client.close()
removeBenchData(dir)
