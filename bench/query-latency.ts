/**
 * `npm run bench:query`: latency of every query route at scale. Fills ClickHouse through the
 * processors' own store code (not Kafka: minutes, not hours) with one large project (`--runs`, 1M by
 * default, `--steps` steps each, over `--days` days) and `--small-projects` smaller ones, then starts
 * the query role in a child process and measures p50/p99 of each route and scenario, one request at
 * a time, from outside. Embedded ClickHouse (chdb) in a temporary directory by default; a server
 * when CLICKHOUSE_URL is set (a database of its own, dropped at the end).
 *
 *   npm run bench:query -- --runs 100000
 */
import { execFile, execFileSync } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs, promisify } from 'node:util'
import { createClickhouseClient } from '../lib/clickhouse.ts'
import { ensureServices } from '../scripts/local-services.ts'
import { createCursorCodec, cursorKey } from '../query-api/cursor-codec.ts'
import { createBenchProject } from './support/bench-projects.ts'
import { note, runBench, type Cleanups } from './support/bench-run.ts'
import { createHttpClient, percentile } from './support/load.ts'
import { describeFilesystem, recentCleanupWarning, removeBenchData } from './support/file-churn.ts'
import { describeMachine } from './support/machine.ts'
import { runFacts, runIndexAt, type DatasetProject } from './support/query-dataset.ts'
import { startSluiceChild, type SluiceChild } from './support/sluice-child.ts'

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000000' },
    steps: { type: 'string', default: '10' },
    days: { type: 'string', default: '30' },
    'small-projects': { type: 'string', default: '10' },
    samples: { type: 'string', default: '200' },
    'max-seconds': { type: 'string', default: '20' },
    chunk: { type: 'string', default: '2000' },
  },
})
const RUNS = Number(args.runs)
const STEPS = Number(args.steps)
const DAYS = Number(args.days)
const SMALL = Number(args['small-projects'])
const SAMPLES = Number(args.samples)
const MAX_MS = Number(args['max-seconds']) * 1000
const DAY = 86_400_000
const HOUR = 3_600_000

interface Scenario {
  route: string
  scenario: string
  /** A request path per sample (varied, so no answer is a cache hit of the one before). */
  path: (n: number) => string
  key: string
}

const cleanups: Cleanups = []

async function main() {
  // The commit the code under test was loaded from (a working tree with changes says so).
  const commit = (() => {
    try {
      const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() ? ' + uncommitted changes' : ''
      return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim() + dirty
    } catch {
      return 'unknown'
    }
  })()
  const adminToken = randomBytes(24).toString('hex')
  // Before anything is written: was the file system slowed by a bench's cleanup (support/file-churn.ts)?
  const churn = recentCleanupWarning()
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-query-'))
  cleanups.push(['temporary directory', async () => removeBenchData(dir)])
  const server = process.env.CLICKHOUSE_URL
  const database = server ? `bench_query_${randomUUID().replaceAll('-', '').slice(0, 10)}` : 'sluice'
  const clickhouse = { url: server, user: process.env.CLICKHOUSE_USER ?? 'default', password: process.env.CLICKHOUSE_PASSWORD ?? '', chdbPath: join(dir, 'chdb'), database }
  if (server) {
    cleanups.push([
      `database ${database}`,
      async () => {
        const c = createClickhouseClient(clickhouse)
        await c.command({ query: `DROP DATABASE IF EXISTS \`${database}\`` })
        await c.close()
      },
    ])
  }
  // The local Kafka, Postgres and Redis (given by environment, or started as `npm run stack` does).
  const services = await ensureServices()
  const env = {
    KAFKA_BROKERS: services.kafkaBrokers,
    DATABASE_URL: services.databaseUrl,
    REDIS_URL: services.redisUrl,
    SLUICE_ADMIN_TOKEN: adminToken,
    SLUICE_CHDB_PATH: clickhouse.chdbPath,
    CLICKHOUSE_DATABASE: database,
    SLUICE_RATE_LIMIT_EVENTS_PER_SECOND: '0',
    LOG_LEVEL: 'warn',
  }

  // Projects and keys through Sluice's own admin route (an ingest role: it never opens ClickHouse).
  const ingest = await startSluiceChild({ name: 'ingest', roles: ['ingest'], env, logFile: join(dir, 'ingest.log') })
  const admin = createHttpClient(ingest.url, { maxSockets: 1 })
  const big = await createBenchProject(admin, adminToken, `bench-query-${randomUUID().slice(0, 8)}`)
  const smalls = []
  for (let i = 0; i < SMALL; i++) smalls.push(await createBenchProject(admin, adminToken, `bench-query-small-${i}-${randomUUID().slice(0, 8)}`))
  admin.close()
  await ingest.stop()

  const endMs = Math.floor(Date.now() / 1000) * 1000
  const startMs = endMs - DAYS * DAY
  const bigSet: DatasetProject = { id: big.id, runs: RUNS, stepsPerRun: STEPS, startMs, endMs }
  const smallRuns = Math.max(1, Math.round(RUNS / 100))
  const smallSets: DatasetProject[] = smalls.map((p) => ({ id: p.id, runs: smallRuns, stepsPerRun: STEPS, startMs, endMs }))
  note(`filling ${RUNS} runs × ${STEPS} steps (+ ${SMALL} projects of ${smallRuns} runs) over ${DAYS} days`)
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['bench/support/query-fill.ts', JSON.stringify({ clickhouse, projects: [...smallSets.slice(0, SMALL / 2), bigSet, ...smallSets.slice(SMALL / 2)], chunkRuns: Number(args.chunk) })],
    { maxBuffer: 1 << 20, env: { ...process.env, LOG_LEVEL: 'warn' } },
  ).catch((err: { stderr?: string }) => {
    throw new Error(`fill failed: ${err.stderr ?? String(err)}`)
  })
  const filled = JSON.parse(stdout.trim().split('\n').pop()!) as { runs: number; steps: number; logs: number; seconds: number; storeSeconds: number; settleSeconds: number }
  note(`filled ${filled.runs} runs, ${filled.steps} steps, ${filled.logs} logs in ${filled.seconds.toFixed(0)} s`)

  const query: SluiceChild = await startSluiceChild({ name: 'query', roles: ['query'], env, logFile: join(dir, 'query.log') })
  cleanups.push(['query role', () => query.stop()])
  const http = createHttpClient(query.url, { maxSockets: 1 })
  cleanups.push(['http client', async () => http.close()])

  const cursors = createCursorCodec(cursorKey(adminToken))
  const run = (p: DatasetProject, i: number) => runFacts(p, i)
  const recent = (n: number) => run(bigSet, RUNS - 1 - ((n * 7919) % Math.max(1, Math.floor(RUNS / 1000))))
  const old = (n: number) => run(bigSet, (n * 7919) % Math.max(1, Math.floor(RUNS / 1000)))
  const anyRun = (n: number) => run(bigSet, (n * 104_729) % RUNS)
  const cursorAt = (ms: number) => {
    const r = run(bigSet, runIndexAt(bigSet, ms))
    return encodeURIComponent(cursors.encode([r.startedAt, r.runId]))
  }
  const iso = (ms: number) => new Date(ms).toISOString()
  const k = big.query_key
  const scenarios: Scenario[] = [
    { route: 'GET /health', scenario: 'floor: HTTP and auth-free route', path: () => '/health', key: k },
    { route: 'GET /analyze/{id}', scenario: 'recent run', path: (n) => `/analyze/${recent(n).runId}`, key: k },
    { route: 'GET /analyze/{id}', scenario: 'run 30 days old', path: (n) => `/analyze/${old(n).runId}`, key: k },
    { route: 'GET /analyze/{id}', scenario: 'small project', path: (n) => `/analyze/${run(smallSets[0]!, n % smallRuns).runId}`, key: smalls[0]!.query_key },
    { route: 'GET /runs/{id}', scenario: 'recent run', path: (n) => `/runs/${recent(n).runId}`, key: k },
    { route: 'GET /runs/{id}', scenario: 'run 30 days old', path: (n) => `/runs/${old(n).runId}`, key: k },
    { route: 'GET /runs/{id}/steps', scenario: 'any run', path: (n) => `/runs/${anyRun(n).runId}/steps`, key: k },
    { route: 'GET /runs', scenario: 'newest 100', path: () => '/runs?limit=100', key: k },
    { route: 'GET /runs', scenario: 'name=recs', path: () => '/runs?name=recs&limit=100', key: k },
    { route: 'GET /runs', scenario: 'name=backfill (0.1 %)', path: () => '/runs?name=backfill&limit=100', key: k },
    { route: 'GET /runs', scenario: 'status=completed', path: () => '/runs?status=completed&limit=100', key: k },
    { route: 'GET /runs', scenario: 'status=failed', path: () => '/runs?status=failed&limit=100', key: k },
    { route: 'GET /runs', scenario: 'status=running', path: () => '/runs?status=running&limit=100', key: k },
    { route: 'GET /runs', scenario: 'tag=env:staging', path: () => '/runs?tag=env:staging&limit=100', key: k },
    { route: 'GET /runs', scenario: 'tag=customer:c-N (0.1 %)', path: (n) => `/runs?tag=customer:c-${n % 1000}&limit=100`, key: k },
    { route: 'GET /runs', scenario: 'one day, 10 days ago', path: () => `/runs?from=${iso(endMs - 11 * DAY)}&to=${iso(endMs - 10 * DAY)}&limit=100`, key: k },
    {
      route: 'GET /runs',
      scenario: 'name+status+tag',
      path: () => '/runs?name=search&status=failed&tag=region:ap&limit=100',
      key: k,
    },
    { route: 'GET /runs', scenario: 'page deep (cursor 20 days back)', path: (n) => `/runs?limit=100&cursor=${cursorAt(endMs - 20 * DAY - n * 60_000)}`, key: k },
    {
      route: 'GET /runs',
      scenario: 'status=failed, page deep',
      path: (n) => `/runs?status=failed&limit=100&cursor=${cursorAt(endMs - 25 * DAY - n * 60_000)}`,
      key: k,
    },
    { route: 'GET /runs', scenario: 'small project, newest 100', path: () => '/runs?limit=100', key: smalls[0]!.query_key },
    { route: 'GET /pipelines/{name}/funnel', scenario: 'all time', path: () => '/pipelines/recs/funnel', key: k },
    { route: 'GET /pipelines/{name}/funnel', scenario: 'last hour', path: (n) => `/pipelines/recs/funnel?from=${iso(endMs - HOUR - n * 1000)}&to=${iso(endMs - n * 1000)}`, key: k },
    { route: 'GET /pipelines/{name}/funnel', scenario: 'last day', path: (n) => `/pipelines/recs/funnel?from=${iso(endMs - DAY - n * 1000)}&to=${iso(endMs - n * 1000)}`, key: k },
    { route: 'GET /pipelines/{name}/funnel', scenario: '30 days', path: (n) => `/pipelines/recs/funnel?from=${iso(startMs - n * 1000)}&to=${iso(endMs - n * 1000)}`, key: k },
    { route: 'GET /api/logs', scenario: 'q=timeout, one day', path: (n) => `/api/logs?q=timeout&from=${iso(endMs - 2 * DAY - n * 1000)}&to=${iso(endMs - DAY - n * 1000)}`, key: k },
    { route: 'GET /api/logs', scenario: 'min_level=error, newest', path: () => '/api/logs?min_level=error', key: k },
    { route: 'GET /api/logs/stats', scenario: 'one day, 5m', path: (n) => `/api/logs/stats?interval=5m&from=${iso(endMs - DAY - n * 1000)}&to=${iso(endMs - n * 1000)}`, key: k },
  ]

  const rows: string[] = []
  for (const s of scenarios) {
    const headers = { authorization: `Bearer ${s.key}` }
    for (let w = 0; w < 3; w++) await http.get(s.path(SAMPLES + w), headers)
    const times: number[] = []
    let bytes = 0
    const t0 = performance.now()
    for (let n = 0; n < SAMPLES && performance.now() - t0 < MAX_MS; n++) {
      const a = performance.now()
      const res = await http.get(s.path(n), headers)
      times.push(performance.now() - a)
      if (res.status !== 200) throw new Error(`${s.route} (${s.scenario}) answered ${res.status}: ${res.text.slice(0, 300)}`)
      bytes += res.text.length
    }
    const line = `| \`${s.route}\` | ${s.scenario} | ${percentile(times, 0.5).toFixed(1)} | ${percentile(times, 0.99).toFixed(1)} | ${times.length} | ${Math.round(bytes / times.length)} |`
    note(line)
    rows.push(line)
  }

  console.log(`## bench:query — ${filled.runs.toLocaleString('en')} runs, ${filled.steps.toLocaleString('en')} steps, ${filled.logs.toLocaleString('en')} logs\n`)
  for (const line of describeMachine({ externalKafka: true })) console.log(`- ${line}`)
  console.log(`- data:    ${describeFilesystem(dir)}`)
  if (churn) console.log(`- warning: ${churn}`)
  console.log(`- commit: ${commit}`)
  console.log(`- ClickHouse: ${server ? `server ${server}` : 'embedded (chdb)'}; one large project of ${RUNS} runs and ${SMALL} of ${smallRuns}, over ${DAYS} days`)
  console.log(`- fill: ${filled.seconds.toFixed(1)} s (${Math.round(filled.runs / filled.seconds)} runs/s, ${Math.round(filled.steps / filled.seconds)} steps/s; ${filled.storeSeconds.toFixed(1)} s in store writes; then ${filled.settleSeconds.toFixed(0)} s until the background merges ended)`)
  console.log(`- one request at a time, ${SAMPLES} samples per scenario (fewer when one took over ${MAX_MS / 1000} s), after 3 warm-up requests\n`)
  console.log('| route | scenario | p50 ms | p99 ms | samples | bytes |')
  console.log('| --- | --- | ---: | ---: | ---: | ---: |')
  for (const line of rows) console.log(line)
}

await runBench(main, cleanups)
