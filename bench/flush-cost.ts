/**
 * `npm run bench:flush`: what one runs-funnel flush costs the embedded ClickHouse, alone. One
 * process, a fresh chdb directory, the real store writing `--flushes` flushes of `--runs` new runs
 * (7 events each, as at about 5k events/s) back to back, nothing else running. Prints wall time and
 * CPU per flush (user and kernel, including the background merges of the 3 s after the last one),
 * minor page faults, and the engine's own counts per flush (parts written, merges, files opened).
 *
 *   npm run bench:flush
 *   npm run bench:flush -- --keep      # leave the data (a series of runs: support/file-churn.ts)
 *   npm run bench:flush -- --dir /dev/shm   # the same on tmpfs, to see the file system's share
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { clickhouseTables, createClickhouseClient, type ClickHouseClient } from '../lib/clickhouse.ts'
import { createLogger } from '../lib/logger.ts'
import { createMetrics } from '../lib/metrics.ts'
import { runMigrations } from '../lib/migrate.ts'
import type { PositionedEvent } from '../processors/positioned-events.ts'
import { planBatch } from '../processors/runs-funnel/batch-plan.ts'
import { createFunnelStore } from '../processors/runs-funnel/funnel-store.ts'
import { describeFilesystem, recentCleanupWarning, removeBenchData } from './support/file-churn.ts'
import { sleep } from './support/load.ts'
import { runEvents, type DatasetProject } from './support/query-dataset.ts'

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '180' },
    flushes: { type: 'string', default: '120' },
    dir: { type: 'string', default: tmpdir() },
    keep: { type: 'boolean', default: false },
  },
})
const runsPerFlush = Number(args.runs)
const flushes = Number(args.flushes)
const WARM_UP = 10

const churn = recentCleanupWarning()
const dir = mkdtempSync(join(args.dir, 'sluice-bench-flush-'))
const client = createClickhouseClient({ url: undefined, user: 'default', password: '', chdbPath: join(dir, 'chdb') })
const tables = clickhouseTables('sluice')
await runMigrations({ pg: undefined, clickhouse: client, clickhouseDatabase: 'sluice', logger: createLogger({ level: 'silent' }) })
const store = createFunnelStore({ client, tables, metrics: createMetrics() })
const now = Date.now()
const project: DatasetProject = { id: 'flush', runs: runsPerFlush * flushes, stepsPerRun: 5, startMs: now - 3_600_000, endMs: now }

let offset = 0
async function flush(f: number): Promise<number> {
  const events: PositionedEvent[] = []
  for (let i = f * runsPerFlush; i < (f + 1) * runsPerFlush; i++) for (const event of runEvents(project, i).run) events.push({ event, partition: 0, offset: offset++ })
  await store.write(planBatch(events, { runStarts: [], steps: [], completions: [] }), [{ group: 'bench', topic: 't', partition: 0, offset: offset - 1 }])
  return events.length
}

for (let f = 0; f < WARM_UP; f++) await flush(f)
const [events0, proc0] = [await engineEvents(client), processStat()]
const t0 = performance.now()
let written = 0
for (let f = WARM_UP; f < flushes; f++) written += await flush(f)
const wallMs = (performance.now() - t0) / (flushes - WARM_UP)
await sleep(3_000) // the merges these flushes set off
const [events1, proc1] = [await engineEvents(client), processStat()]
await client.close()

const n = flushes - WARM_UP
const per = (k: string) => ((events1.get(k) ?? 0) - (events0.get(k) ?? 0)) / n
const cpuMs = ((proc1.user + proc1.system - proc0.user - proc0.system) * 1000) / n
console.log(`data: ${describeFilesystem(dir)}`)
if (churn) console.log(`warning: ${churn}`)
console.log(`${n} flushes of ${Math.round(written / n)} events (after ${WARM_UP} unmeasured)`)
console.log(`per flush: wall ${wallMs.toFixed(1)} ms, CPU ${cpuMs.toFixed(1)} ms (kernel ${(((proc1.system - proc0.system) * 1000) / n).toFixed(1)}), ${((cpuMs * 1000) / (written / n)).toFixed(0)} µs/event, minor faults ${((proc1.faults - proc0.faults) / n).toFixed(0)}`)
console.log(
  `engine per flush: parts ${(per('InsertedCompactParts') + per('InsertedWideParts')).toFixed(1)}, merges ${per('Merge').toFixed(2)} (${per('MergedRows').toFixed(0)} rows, ${per('MergeTotalMilliseconds').toFixed(1)} ms), files opened ${per('FileOpen').toFixed(0)}`,
)
if (args.keep) console.log(`kept ${dir}`)
else removeBenchData(dir)

async function engineEvents(c: ClickHouseClient): Promise<Map<string, number>> {
  const rs = await c.query({ query: 'SELECT event, value FROM system.events', format: 'JSONEachRow' })
  return new Map((await rs.json<{ event: string; value: number }>()).map((r) => [r.event, Number(r.value)]))
}

/** CPU seconds (user, kernel) and minor page faults of this process so far, the engine's threads included. */
function processStat(): { user: number; system: number; faults: number } {
  const { user, system } = process.cpuUsage()
  return { user: user / 1e6, system: system / 1e6, faults: process.resourceUsage().minorPageFault }
}

