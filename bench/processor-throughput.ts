/**
 * Processor catch-up and freshness. Prints figures; never part of `npm test`. See
 * docs/performance.md ("Processor catch-up and freshness") for what it measures and how to read it.
 *
 *   npm run bench:processor                               # 200,000 events, then freshness at 2k/5k/10k ev/s
 *   npm run bench:processor -- --events 30000 --freshness-rates 2000 --freshness-seconds 10
 *   npm run bench:processor -- --skip-freshness --node-args=--cpu-prof   # + where the processor spends CPU
 *   npm run bench:processor -- --log-level info --keep    # keep the children's logs
 *
 * 1. Loads N events (runs of 7 events plus ~17 % logs, three projects with reaction rules) into a
 *    fresh topic as the exact messages /ingest would produce. Untimed against the processor.
 * 2. Baseline A: a bare kafkajs consumer group reads the topic to its end (commit per batch).
 * 3. Baseline B: the same events' rows inserted into a fresh embedded ClickHouse, 50k rows an insert.
 * 4. A fresh `--role processor,query` child with fresh groups and chdb directory: time from spawn to
 *    lag 0 on its three groups, its CPU and peak RSS; then sampled runs checked on its query API.
 * 5. Freshness: an ingest child feeds the caught-up processor at fixed rates (bench/support/freshness.ts).
 */
import { execFileSync } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import type { Admin } from 'kafkajs'
import { createEventCodec } from '../lib/avro/event-codec.ts'
import { clickhouseTables, createClickhouseClient } from '../lib/clickhouse.ts'
import { createEventProducer } from '../lib/kafka/event-producer.ts'
import { createKafka } from '../lib/kafka/kafka-client.ts'
import { ensureTopics } from '../lib/kafka/topics.ts'
import { createLogger } from '../lib/logger.ts'
import { runMigrations } from '../lib/migrate.ts'
import { createPgPool } from '../lib/postgres.ts'
import { createReactionStore } from '../lib/reactions/reaction-store.ts'
import { ensureServices, type ServiceUrls } from '../scripts/local-services.ts'
import { formatProfileSummary, summarizeCpuProfile } from './cpu-profile-summary.ts'
import { bareConsume } from './support/bare-consumer.ts'
import { bareInsert, buildRows } from './support/bare-insert.ts'
import { BENCH_AUDIT, createBenchProject, createBenchReactions, type BenchProject } from './support/bench-projects.ts'
import { describeFilesystem, recentCleanupWarning, removeBenchData } from './support/file-churn.ts'
import { insertTimesBetween, insertTotals } from './support/insert-times.ts'
import { freshnessFigures, measureFreshness, warmUpPipeline } from './support/freshness.ts'
import { groupLags, waitForZeroLag } from './support/group-lag.ts'
import { createHttpClient, percentile, type HttpClient } from './support/load.ts'
import { buildWorkload, loadTopic, type BenchWorkload } from './support/load-topic.ts'
import { cpuSeconds, cpuShares, cpuSnapshot, describeMachine, localKafkaPid, sampleResidentMemory } from './support/machine.ts'
import { startSluiceChild, type SluiceChild } from './support/sluice-child.ts'
import { note, retryWhileKafkaStarts, runBench, type Cleanups } from './support/bench-run.ts'

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '200000' },
    partitions: { type: 'string', default: '6' },
    projects: { type: 'string', default: '3' },
    'skip-freshness': { type: 'boolean', default: false },
    'freshness-rates': { type: 'string', default: '2000,5000,10000' },
    'freshness-seconds': { type: 'string', default: '20' },
    /** Give up on the catch-up (and on baseline A) after this many seconds. */
    'catch-up-timeout': { type: 'string', default: '600' },
    /** Node flags for the processor child, e.g. "--cpu-prof" (the profile's path is printed). */
    'node-args': { type: 'string', default: '' },
    'log-level': { type: 'string', default: 'warn' },
    keep: { type: 'boolean', default: false },
  },
})

const EVENTS = Number(args.events)
const PARTITIONS = Number(args.partitions)
const PROJECTS = Math.max(1, Number(args.projects))
const LOG_SHARE = 0.17
const ROWS_PER_INSERT = 50_000
const CATCH_UP_TIMEOUT_MS = Number(args['catch-up-timeout']) * 1000
const FRESHNESS_MS = Number(args['freshness-seconds']) * 1000
const FRESHNESS_RATES = args['skip-freshness'] ? [] : args['freshness-rates'].split(',').map(Number).filter((r) => r > 0)
const SAMPLE_TIMEOUT_MS = 20_000
const LAG_POLL_MS = 250
const DRAIN_TIMEOUT_MS = 180_000
const SAMPLED_RUNS = 12
// The processor's own settings (lib/config.ts defaults), so baseline A fetches and commits alike.
const MAX_BYTES_PER_PARTITION = 4 * 1024 * 1024
const PARTITIONS_CONCURRENTLY = 3

const cleanups: Cleanups = []
const out = (line = '') => process.stdout.write(`${line}\n`)
const f = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-')
const s1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-')
const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`

async function main(): Promise<void> {
  const started = Date.now()
  out('# Sluice processor catch-up and freshness')
  for (const line of describeMachine({ externalKafka: Boolean(process.env.KAFKA_BROKERS) })) out(line)
  out(`data:    ${describeFilesystem(os.tmpdir())}`)
  const churn = recentCleanupWarning()
  if (churn) out(`warning: ${churn}`)
  out(`commit:  ${gitCommit()}`)
  out('note:    bench client, Kafka broker and the processor child (with its embedded chdb) share these cores')
  out()

  const services = await retryWhileKafkaStarts('local services', () => ensureServices())
  const id = randomUUID().slice(0, 8)
  const adminToken = randomBytes(24).toString('base64url')
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-processor-'))
  cleanups.push(['temporary directory', async () => (args.keep ? note(`kept ${tmp}`) : removeBenchData(tmp))])
  const topic = `bench.processor.${id}`
  const deadLetterTopic = `${topic}.dlq`
  const groups = {
    SLUICE_RUNS_FUNNEL_GROUP: `bench-runs-funnel-${id}`,
    SLUICE_LOGS_GROUP: `bench-logs-${id}`,
    SLUICE_REACTIONS_GROUP: `bench-reactions-${id}`,
  }
  // The groups the processor role runs (runs-funnel and logs read one group; SLUICE_LOGS_GROUP is
  // the retired group it would take over, unique here too).
  const groupNames = [groups.SLUICE_RUNS_FUNNEL_GROUP, groups.SLUICE_REACTIONS_GROUP]
  const bareGroup = `bench-bare-${id}`

  const logger = createLogger({ level: 'warn', name: 'bench' })
  const kafka = createKafka({ brokers: services.kafkaBrokers.split(','), clientId: `sluice-bench-${id}`, logger })
  const admin = kafka.admin()
  await retryWhileKafkaStarts('kafka admin', () => admin.connect())
  cleanups.push([
    'bench topics and groups',
    async () => {
      await admin.deleteTopics({ topics: [topic, deadLetterTopic], timeout: 10_000 }).catch((err: unknown) => note(`could not delete topics: ${String(err)}`))
      await admin.deleteGroups([...Object.values(groups), bareGroup]).catch(() => {})
      await admin.disconnect()
    },
  ])
  await ensureTopics(admin, [
    { topic, partitions: PARTITIONS, replicationFactor: 1 },
    { topic: deadLetterTopic, partitions: PARTITIONS, replicationFactor: 1 },
  ])

  const env = childEnv(services, adminToken, {
    SLUICE_TOPIC_EVENTS: topic,
    SLUICE_TOPIC_DEAD_LETTER: deadLetterTopic,
    SLUICE_TOPIC_PARTITIONS: String(PARTITIONS),
    ...groups,
    SLUICE_CHDB_PATH: path.join(tmp, 'chdb-processor'),
  })
  // The ingest child makes the projects now and carries the freshness load later; idle in between.
  const ingest = await startChild('ingest', { roles: ['ingest'], env, logFile: path.join(tmp, 'ingest.log') })
  const ingestHttp = createHttpClient(ingest.url, { maxSockets: 16 })
  cleanups.push(['ingest HTTP client', async () => ingestHttp.close()])
  const pg = createPgPool({ url: services.databaseUrl, max: 2 })
  const reactions = createReactionStore(pg)
  const projects: BenchProject[] = []
  const reactionIds: Array<[string, string]> = []
  cleanups.push([
    'bench reactions',
    async () => {
      for (const [projectId, reactionId] of reactionIds) await reactions.remove(projectId, reactionId, BENCH_AUDIT).catch(() => {})
      await pg.end()
    },
  ])
  for (let i = 0; i < PROJECTS; i++) {
    const project = await createBenchProject(ingestHttp, adminToken, `bench-processor-${id}-${i}`)
    projects.push(project)
    for (const r of await createBenchReactions(reactions, project.id)) reactionIds.push([project.id, r])
  }

  // 1. Load.
  const workload = buildWorkload({ events: EVENTS, projectIds: projects.map((p) => p.id), logShare: LOG_SHARE, seed: 20261201 })
  const codec = createEventCodec()
  const producer = createEventProducer(kafka, { timeoutMs: 30_000 })
  note(`loading ${workload.counts.events} events into ${topic} (${PARTITIONS} partitions)`)
  const loadSeconds = await loadTopic({ producer, codec, topic, batches: workload.batches, concurrency: 4, onProgress: (n) => note(`  loaded ${n}`) })
  await producer.disconnect()
  const total = await messagesOn(admin, topic)
  if (total !== workload.counts.events) throw new Error(`topic holds ${total} messages, expected ${workload.counts.events}`)
  const c = workload.counts
  out(`workload: ${f(c.events)} events on ${PARTITIONS} partitions: ${f(workload.runs.length)} runs of 7 events (run_start, 5 x step_complete with counts`)
  out(`          and rejection reasons, run_complete; 20 % failed), ${f(c.logs)} logs (${Math.round((c.logs / c.events) * 100)} %, ${f(c.logsWithRun)} with a run_id),`)
  out(`          ${PROJECTS} projects with 2 reaction rules each (error logs per service; step drop_rate > 0.6 per step name)`)
  out(`          loaded in ${s1(loadSeconds)} s (${f(c.events / loadSeconds)} ev/s) through lib/kafka/event-producer.ts, before anything is timed`)
  out()

  // 2. Baseline A.
  note('baseline A: bare kafkajs consumer')
  const benchCpu0 = cpuSeconds(process.pid)!
  const bare = await bareConsume(kafka, {
    topic,
    groupId: bareGroup,
    expected: total,
    maxBytesPerPartition: MAX_BYTES_PER_PARTITION,
    partitionsConsumedConcurrently: PARTITIONS_CONCURRENTLY,
    timeoutMs: CATCH_UP_TIMEOUT_MS,
    retain: true,
  })
  const bareCpu = cpuSeconds(process.pid)! - benchCpu0
  await admin.deleteGroups([bareGroup]).catch(() => {})

  // 3. Baseline B.
  note('baseline B: bare inserts into a fresh chdb')
  const rowsT0 = performance.now()
  const rows = await buildRows(codec, bare.retained)
  const rowsSeconds = (performance.now() - rowsT0) / 1000
  bare.retained.length = 0
  const chdbDir = path.join(tmp, 'chdb-bare')
  mkdirSync(chdbDir, { recursive: true })
  const clickhouse = createClickhouseClient({ url: undefined, user: 'default', password: '', chdbPath: chdbDir })
  await runMigrations({ pg: undefined, clickhouse, clickhouseDatabase: 'sluice', logger })
  const insertCpu0 = cpuSeconds(process.pid)!
  const inserted = await bareInsert(clickhouse, clickhouseTables('sluice'), rows, ROWS_PER_INSERT)
  const insertCpu = cpuSeconds(process.pid)! - insertCpu0
  // TRICKY: its files stay until the end (with the temporary directory): removing them here would
  // slow the processor child's file creation (support/file-churn.ts).
  await clickhouse.close()
  const rowCount = rows.runStarts.length + rows.steps.length + rows.completions.length + rows.logs.length

  // 4. The processor.
  const catchUp = await processorCatchUp({ env, tmp, admin, topic, groupNames, total })
  const { processor } = catchUp
  const queryHttp = createHttpClient(processor.url, { maxSockets: 32 })
  cleanups.push(['query HTTP client', async () => queryHttp.close()])
  const check = await verifySample(queryHttp, projects, workload)
  const deadLetters = await messagesOn(admin, deadLetterTopic)

  const rateA = total / bare.seconds
  const rateB = total / inserted.seconds
  const rateP = total / catchUp.totalSeconds
  out(`## Catch-up: ${f(total)} events already on the topic, from the start to the end`)
  out()
  out('| what | seconds | events/s | CPU µs/event | notes |')
  out('|---|---:|---:|---:|---|')
  out(
    `| A: bare kafkajs consumer (fresh group, commit per batch) | ${s1(bare.seconds)} | ${f(rateA)} | ${f((bareCpu * 1e6) / total)} (bench) | ` +
      `first batch after ${s1(bare.firstBatchSeconds)} s (connect, join), ${f(total / (bare.seconds - bare.firstBatchSeconds))} ev/s from there; ${mib(bare.valueBytes)} of values |`,
  )
  out(
    `| B: bare chdb inserts (${f(ROWS_PER_INSERT)} rows an insert) | ${s1(inserted.seconds)} | ${f(rateB)} | ${f((insertCpu * 1e6) / total)} (bench) | ` +
      `${f(rowCount)} rows in ${inserted.inserts} inserts; decoding + building them took ${s1(rowsSeconds)} s more |`,
  )
  out(
    `| **processor child, spawn → lag 0** | ${s1(catchUp.totalSeconds)} | **${f(rateP)}** | ${f((catchUp.cpuSeconds * 1e6) / total)} (child) | ` +
      `ready (/health) after ${s1(catchUp.readySeconds)} s |`,
  )
  out(
    `| processor child, ready → lag 0 | ${s1(catchUp.totalSeconds - catchUp.readySeconds)} | ${f(total / (catchUp.totalSeconds - catchUp.readySeconds))} | ` +
      `${f(((catchUp.cpuSeconds - catchUp.cpuAtReady) * 1e6) / total)} (child) | |`,
  )
  out()
  out(`**processor ÷ A = ${(rateP / rateA).toFixed(2)}, processor ÷ B = ${(rateP / rateB).toFixed(2)}** (spawn → lag 0 against each baseline's whole time)`)
  out()
  out('| group | lag 0 after spawn, s |')
  out('|---|---:|')
  for (const g of groupNames) out(`| ${g.replace(`-${id}`, '')} | ${s1(catchUp.perGroupMs.get(g)! / 1000)} |`)
  out()
  out(
    `processor child: peak RSS ${mib(catchUp.memory.peak)} (peak anonymous ${mib(catchUp.memory.peakAnon)}, file-backed then ${mib(catchUp.memory.fileAtPeakAnon)}: mapped code, mostly libchdb.so), ` +
      `${s1(catchUp.cpuSeconds)} CPU s; CPU shares over the catch-up: ${catchUp.shares}`)
  out(`check: ${check.checked} sampled runs on GET /runs/{id} (status, step_count = 5), ${check.analyzed} on /analyze (5 funnel steps): ${check.problems.length === 0 ? 'all right' : `${check.problems.length} WRONG`}`)
  for (const p of check.problems.slice(0, 5)) out(`  ${p}`)
  out(`dead letters: ${deadLetters}; error lines in the processor log: ${errorLines(processor.logFile)}`)
  out()

  if (FRESHNESS_RATES.length > 0) {
    await freshness({ ingestHttp, queryHttp, project: projects[0]!, admin, topic, groupNames, id, pids: { ingest: ingest.pid, processor: processor.pid } })
    out(`after freshness: dead letters ${await messagesOn(admin, deadLetterTopic)}; error lines in the processor log ${errorLines(processor.logFile)}, in the ingest log ${errorLines(ingest.logFile)}`)
    out()
  }

  await processor.stop()
  if (catchUp.profileDir) printProfile(catchUp.profileDir, id)
  out(`total bench time ${Math.round((Date.now() - started) / 1000)} s`)
}

async function processorCatchUp(o: { env: Record<string, string>; tmp: string; admin: Admin; topic: string; groupNames: string[]; total: number }) {
  const nodeArgs = args['node-args'].split(/\s+/).filter(Boolean)
  let profileDir: string | undefined
  if (nodeArgs.includes('--cpu-prof') && !nodeArgs.some((a) => a.startsWith('--cpu-prof-dir'))) {
    profileDir = path.join(o.tmp, 'profile')
    nodeArgs.push(`--cpu-prof-dir=${profileDir}`)
  }
  note(`processor: spawning --role processor,query${nodeArgs.length ? ` with ${nodeArgs.join(' ')}` : ''}; waiting for lag 0 on its ${o.groupNames.length} groups`)
  const t0 = performance.now()
  const abort = new AbortController()
  const lagZero = waitForZeroLag(o.admin, { topic: o.topic, groups: o.groupNames, since: t0, pollMs: LAG_POLL_MS, timeoutMs: CATCH_UP_TIMEOUT_MS, signal: abort.signal })
  // Until the child is ready the poll runs alone; a failed start must stop it, not leave it unhandled.
  lagZero.catch(() => {})
  const processor = await startChild('processor+query', { roles: ['processor', 'query'], env: o.env, logFile: path.join(o.tmp, 'processor.log'), nodeArgs }).catch(
    (err: unknown) => {
      abort.abort()
      throw err
    },
  )
  const readySeconds = (performance.now() - t0) / 1000
  const cpuAtReady = cpuSeconds(processor.pid) ?? Number.NaN
  const memory = sampleResidentMemory(processor.pid, 100)
  const pids = new Map([['processor', processor.pid], ['bench', process.pid], ['broker', localKafkaPid()]])
  const before = cpuSnapshot(pids)
  const readyAt = performance.now()
  let perGroupMs: Map<string, number>
  try {
    perGroupMs = await lagZero
  } catch (err) {
    memory.stop()
    throw new Error(`${(err as Error).message}\nprocessor log tail:\n${processor.logTail()}`, { cause: err })
  }
  const totalSeconds = Math.max(...perGroupMs.values()) / 1000
  const cpu = cpuSeconds(processor.pid) ?? Number.NaN
  const shares = cpuShares([[before, cpuSnapshot(pids)]], (performance.now() - readyAt) / 1000)
  return { processor, profileDir, readySeconds, totalSeconds, perGroupMs, cpuSeconds: cpu, cpuAtReady, memory: memory.stop(), shares }
}

/** A few runs of every project: GET /runs/{id} shows the right status and 5 steps; some on /analyze too. */
async function verifySample(http: HttpClient, projects: readonly BenchProject[], workload: BenchWorkload) {
  const keyOf = new Map(projects.map((p) => [p.id, p.query_key]))
  const step = Math.max(1, Math.floor(workload.runs.length / SAMPLED_RUNS))
  const sample = workload.runs.filter((_, i) => i % step === 0).slice(0, SAMPLED_RUNS)
  const problems: string[] = []
  let analyzed = 0
  for (const [i, { projectId, run }] of sample.entries()) {
    const headers = { authorization: `Bearer ${keyOf.get(projectId)}` }
    const res = await http.get(`/runs/${run.run_id}`, headers)
    const got = res.status === 200 ? (JSON.parse(res.text) as { status?: string; step_count?: number }) : undefined
    const want = run.status.toUpperCase()
    if (!got || got.status !== want || got.step_count !== run.steps.length) {
      problems.push(`run ${run.run_id}: ${res.status} ${got ? `status ${got.status} step_count ${got.step_count}` : res.text.slice(0, 120)}, want ${want} and ${run.steps.length}`)
    }
    if (i % 4 === 0) {
      analyzed++
      const a = await http.get(`/analyze/${run.run_id}`, headers)
      const funnel = a.status === 200 ? (JSON.parse(a.text) as { funnel?: unknown[] }).funnel : undefined
      if (funnel?.length !== run.steps.length) problems.push(`/analyze/${run.run_id}: ${a.status}, ${funnel?.length} funnel steps, want ${run.steps.length}`)
    }
  }
  return { checked: sample.length, analyzed, problems }
}

async function freshness(o: {
  ingestHttp: HttpClient
  queryHttp: HttpClient
  project: BenchProject
  admin: Admin
  topic: string
  groupNames: string[]
  id: string
  pids: { ingest: number; processor: number }
}): Promise<void> {
  const h = { ingest: o.ingestHttp, query: o.queryHttp, ingestKey: o.project.ingest_key, queryKey: o.project.query_key }
  const warm = await warmUpPipeline(h, 60_000)
  note(`freshness: pipeline warm (first run COMPLETED after ${Math.round(warm)} ms)`)
  const pids = new Map([['bench', process.pid], ['ingest', o.pids.ingest], ['processor', o.pids.processor], ['broker', localKafkaPid()]])
  const lagText = (lags: Map<string, number> | undefined) => (lags ? o.groupNames.map((g) => f(lags.get(g) ?? Number.NaN)).join(' / ') : '-')
  const lines: string[] = []
  const cpuLines: string[] = []
  const insertLines: string[] = []
  for (const [i, rate] of FRESHNESS_RATES.entries()) {
    note(`freshness: offering ${rate} events/s for ${FRESHNESS_MS / 1000} s`)
    const before = cpuSnapshot(pids)
    const insertsBefore = await insertTotals(o.queryHttp)
    const t0 = performance.now()
    let lagAtEnd: Map<string, number> | undefined
    const r = await measureFreshness({
      ...h,
      eventsPerSecond: rate,
      runsPerBatch: 14,
      durationMs: FRESHNESS_MS,
      samplesPerSecond: 5,
      pollIntervalMs: 20,
      maxInFlight: 16,
      sampleTimeoutMs: SAMPLE_TIMEOUT_MS,
      seed: 20261202 + i,
      onLoadEnd: async () => {
        const seconds = (performance.now() - t0) / 1000
        cpuLines.push(`  ${f(rate).padStart(6)} ev/s offered: ${cpuShares([[before, cpuSnapshot(pids)]], seconds)}`)
        insertLines.push(`  ${f(rate).padStart(6)} ev/s offered: ${insertTimesBetween(insertsBefore, await insertTotals(o.queryHttp), seconds)}`)
        lagAtEnd = await groupLags(o.admin, o.topic, o.groupNames).catch(() => undefined)
      },
    })
    const lagAfter = await groupLags(o.admin, o.topic, o.groupNames).catch(() => undefined)
    // Let a processor that fell behind catch up before the next load, so loads do not stack; how
    // long that takes says how far behind it was.
    const drainT0 = performance.now()
    const drained = await waitForZeroLag(o.admin, { topic: o.topic, groups: o.groupNames, since: drainT0, pollMs: LAG_POLL_MS, timeoutMs: DRAIN_TIMEOUT_MS }).then(
      () => s1((performance.now() - drainT0) / 1000),
      (err: unknown) => (note(`freshness: ${(err as Error).message}`), `> ${DRAIN_TIMEOUT_MS / 1000}`),
    )
    const all = freshnessFigures(r.samples)
    lines.push(
      `| ${f(rate)} | ${f(r.acknowledgedEventsPerSecond)} | ${r.delayedBatches} | ${f(percentile(r.ingestLatenciesMs, 0.5))} / ${f(percentile(r.ingestLatenciesMs, 0.99))} | ` +
        `${all.count} | **${f(all.p50)}** | **${f(all.p99)}** | ${f(all.max)} | ${r.timeouts} | ${lagText(lagAtEnd)} | ${lagText(lagAfter)} | ${drained} |`,
    )
  }
  out(`## Freshness: /ingest ack of a run's run_complete → GET /runs/{id} says COMPLETED (polled every 20 ms)`)
  out()
  out(`${FRESHNESS_MS / 1000} s per load on the caught-up processor child, open loop: batches of 14 whole runs (98 events), at most 16 in flight;`)
  out(`5 runs a second sampled. Lags are runs-funnel (with logs) / reactions, in messages, when the load ends and when the last sample is in;`)
  out(`then the bench waits (at most ${DRAIN_TIMEOUT_MS / 1000} s) until every group's lag is 0 before the next load.`)
  out()
  out(`| offered ev/s | acked ev/s | late | /ingest p50 / p99 ms | samples | p50 ms | p99 ms | max ms | timeouts (${SAMPLE_TIMEOUT_MS / 1000} s) | lag at end of load | lag after samples | lag 0 after, s |`)
  out('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|')
  for (const line of lines) out(line)
  out()
  out('CPU during each load (share of one core):')
  for (const line of cpuLines) out(line)
  out()
  out('ClickHouse inserts of the processor child during each load (sluice_clickhouse_insert_duration_seconds; the inserts of a flush run at once, so each waits for the others):')
  for (const line of insertLines) out(line)
  out()
}

function printProfile(dir: string, id: string): void {
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'))
  if (!file) {
    out('(no CPU profile was written by the processor child)')
    return
  }
  const kept = path.join(os.tmpdir(), `sluice-processor-${id}.cpuprofile`)
  renameSync(path.join(dir, file), kept)
  out('## Where the processor child spent its CPU (node --cpu-prof, whole life of the child)')
  out()
  out('```')
  for (const line of formatProfileSummary(summarizeCpuProfile(JSON.parse(readFileSync(kept, 'utf8'))))) out(line)
  out('```')
  out(`profile kept at ${kept}`)
  out()
}

async function messagesOn(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic)
  return offsets.reduce((a, p) => a + Number(p.high) - Number(p.low), 0)
}

/** pino's error and fatal lines (level ≥ 50) in a child's log, with the first message. */
function errorLines(logFile: string): string {
  const lines = readFileSync(logFile, 'utf8').split('\n').filter((l) => /"level":(5|6)0/.test(l))
  if (lines.length === 0) return '0'
  const first = /"msg":"([^"]*)"/.exec(lines[0]!)?.[1] ?? lines[0]!.slice(0, 160)
  return `${lines.length} (first: "${first}")`
}

function gitCommit(): string {
  try {
    const git = (...a: string[]) => execFileSync('git', a, { cwd: path.dirname(new URL(import.meta.url).pathname), encoding: 'utf8' }).trim()
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no') ? ' (with uncommitted changes)' : ''}`
  } catch {
    return 'unknown'
  }
}

function childEnv(services: ServiceUrls, adminToken: string, extra: Record<string, string>): Record<string, string> {
  return {
    KAFKA_BROKERS: services.kafkaBrokers,
    DATABASE_URL: services.databaseUrl,
    REDIS_URL: services.redisUrl,
    SLUICE_ADMIN_TOKEN: adminToken,
    SLUICE_RATE_LIMIT_EVENTS_PER_SECOND: '0',
    LOG_LEVEL: args['log-level'],
    KAFKA_CLIENT_ID: 'sluice-bench',
    ...extra,
  }
}

async function startChild(name: string, options: Omit<Parameters<typeof startSluiceChild>[0], 'name'>): Promise<SluiceChild> {
  const child = await retryWhileKafkaStarts(name, () => startSluiceChild({ name, ...options }))
  cleanups.push([name, () => child.stop()])
  note(`${name} child pid ${child.pid} on ${child.url} (log ${child.logFile})`)
  return child
}

await runBench(main, cleanups)
