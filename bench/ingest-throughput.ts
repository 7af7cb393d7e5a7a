/**
 * Ingest throughput against the raw Kafka producer, and freshness end to end. Prints figures; never
 * part of `npm test`. See docs/performance.md for what it measures and how to read it.
 *
 *   npm run bench:ingest                                # about three and a half minutes
 *   npm run bench:ingest -- --seconds 4 --freshness-seconds 10 --freshness-rates 500,2000
 *   npm run bench:ingest -- --settings 100x8,1000x4gz   # B x C, gz = gzip bodies
 *   npm run bench:ingest -- --profile                   # + where the ingest child spends its CPU
 *   npm run bench:ingest -- --ingest-node-flags=--max-semi-space-size=64
 *   npm run bench:ingest -- --log-level info --keep     # keep the children's logs
 *
 * 1. Baseline: a kafkajs producer in this process (through lib/kafka/event-producer.ts, as ingest
 *    uses it) sends the exact messages /ingest would produce (same keys, headers and Avro bytes,
 *    encoded beforehand) in batches of B, from C concurrent senders, acks=-1, to the same topic.
 * 2. The same events as SDK JSON through POST /ingest on an ingest role in a child process, with the
 *    same B and C. The headline is the ratio of the two; raw and ingest windows alternate over the
 *    rounds so both see the same machine. CPU µs per event, per process, comes with it.
 * 3. Freshness: a fresh topic with ingest and processor+query children; under a steady open-loop
 *    load (10 % and 50 % of the best B=100 ingest figure), the time from the /ingest ack of a run's
 *    run_complete to GET /runs/{id} showing COMPLETED.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { createEventCodec } from '../lib/avro/event-codec.ts'
import { createEventProducer, type OutgoingMessage } from '../lib/kafka/event-producer.ts'
import { createKafka } from '../lib/kafka/kafka-client.ts'
import { createLogger } from '../lib/logger.ts'
import { ensureServices, type ServiceUrls } from '../scripts/local-services.ts'
import { formatProfileSummary, summarizeCpuProfile } from './cpu-profile-summary.ts'
import { freshnessFigures, measureFreshness, warmUpPipeline } from './support/freshness.ts'
import { closedLoop, createHttpClient, openLoop, percentile, type WindowResult } from './support/load.ts'
import { removeBenchData } from './support/file-churn.ts'
import { cpuShares, cpuSnapshot, cpuUsed, describeMachine, localKafkaPid, type CpuSnapshot } from './support/machine.ts'
import { startSluiceChild, type SluiceChild } from './support/sluice-child.ts'
import { chunk, generateRuns, toHttpBatch, toKafkaMessages, type HttpBatch } from './support/workload.ts'
import { note, retryWhileKafkaStarts, runBench, type Cleanups } from './support/bench-run.ts'

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1.5' },
    rounds: { type: 'string', default: '2' },
    settings: { type: 'string', default: '100x1,100x8,500x4,1000x1,1000x4,1000x4gz' },
    /** Per load; loads run lightest first, on the same children. */
    'freshness-seconds': { type: 'string', default: '20' },
    /** Offered loads in events/s, e.g. 500,2000; default 10 % and 50 % of the best B=100 ingest figure. */
    'freshness-rates': { type: 'string' },
    profile: { type: 'boolean', default: false },
    /** Open-loop latency of 100-event batches at this share of the best B=100 ingest rate; 0 skips it. */
    'latency-share': { type: 'string', default: '0.5' },
    /**
     * SLUICE_INGEST_WORKERS of the ingest children (default: Sluice's, one per core). A comma list
     * (1,2) starts one ingest child per value and alternates their windows with the raw ones.
     */
    'ingest-workers': { type: 'string' },
    /** Extra node flags for the ingest child of the throughput part, e.g. "--max-semi-space-size=64". */
    'ingest-node-flags': { type: 'string' },
    /** LOG_LEVEL of the children (their logs are in the temporary directory). */
    'log-level': { type: 'string', default: 'warn' },
    /** Keep the temporary directory (children's logs) instead of deleting it. */
    keep: { type: 'boolean', default: false },
  },
})

interface Setting {
  label: string
  batch: number
  concurrency: number
  gzip: boolean
}

const SETTINGS: Setting[] = args.settings.split(',').map((s) => {
  const m = /^(\d+)x(\d+)(gz)?$/.exec(s.trim())
  if (!m) throw new Error(`--settings: "${s}" is not BxC or BxCgz`)
  const [batch, concurrency, gzip] = [Number(m[1]), Number(m[2]), m[3] === 'gz']
  return { label: `B=${batch} C=${concurrency}${gzip ? ' gzip' : ''}`, batch, concurrency, gzip }
})
const WINDOW_MS = Number(args.seconds) * 1000
const WARMUP_MS = Number(args.warmup) * 1000
const ROUNDS = Math.max(1, Number(args.rounds))
const FRESHNESS_MS = Number(args['freshness-seconds']) * 1000
const FRESHNESS_SHARES = [0.1, 0.5]
const SAMPLE_TIMEOUT_MS = 20_000
const POOL_EVENTS = 21_000

const cleanups: Cleanups = []
const out = (line = '') => process.stdout.write(`${line}\n`)

async function main(): Promise<void> {
  const started = Date.now()
  out('# Sluice ingest throughput and freshness')
  for (const line of describeMachine({ externalKafka: Boolean(process.env.KAFKA_BROKERS) })) out(line)
  out('note:    client, ingest server, Kafka broker (and in part 3 the processor with chdb) share these cores')
  out()

  const services = await retryWhileKafkaStarts('local services', () => ensureServices())
  const id = randomUUID().slice(0, 8)
  const adminToken = randomBytes(24).toString('base64url')
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-'))
  cleanups.push([
    'temporary directory',
    async () => (args.keep || childDied ? note(`kept ${tmp}`) : removeBenchData(tmp)),
  ])
  const topics = [`bench.events.${id}`, `bench.events.${id}.dlq`, `bench.fresh.${id}`, `bench.fresh.${id}.dlq`]
  // Every consumer group of the processor role, unique to this run (see lib/config.ts).
  const groups = {
    SLUICE_RUNS_FUNNEL_GROUP: `bench-runs-funnel-${id}`,
    SLUICE_LOGS_GROUP: `bench-logs-${id}`,
    SLUICE_REACTIONS_GROUP: `bench-reactions-${id}`,
  }

  // The bench's own Kafka connections: the baseline producer and an admin to drop the topics after.
  const logger = createLogger({ level: 'warn', name: 'bench' })
  const kafka = createKafka({ brokers: services.kafkaBrokers.split(','), clientId: `sluice-bench-${id}`, logger })
  const admin = kafka.admin()
  cleanups.push([
    'bench topics and groups',
    async () => {
      const existing = new Set(await admin.listTopics())
      const ours = topics.filter((t) => existing.has(t))
      if (ours.length > 0) {
        await admin.deleteTopics({ topics: ours, timeout: 10_000 }).catch((err: unknown) => note(`could not delete topics: ${String(err)}`))
      }
      await admin.deleteGroups(Object.values(groups)).catch(() => {})
      await admin.disconnect()
    },
  ])
  await retryWhileKafkaStarts('kafka admin', () => admin.connect())

  const env = childEnv(services, adminToken, { SLUICE_TOPIC_EVENTS: topics[0]!, SLUICE_TOPIC_DEAD_LETTER: topics[1]!, ...groups })
  const profileDir = path.join(tmp, 'profile')
  const variants: IngestVariant[] = []
  for (const workers of WORKER_VARIANTS) {
    const name = WORKER_VARIANTS.length > 1 ? `ingest w=${workers}` : 'ingest'
    const child = await startChild(name, {
      roles: ['ingest'],
      env: workers === undefined ? env : { ...env, SLUICE_INGEST_WORKERS: workers },
      logFile: path.join(tmp, `${name.replace(/\W+/g, '-')}.log`),
      nodeArgs: [
        ...(args.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
        ...(args['ingest-node-flags']?.split(/\s+/).filter(Boolean) ?? []),
      ],
    })
    const http = createHttpClient(child.url, { maxSockets: Math.max(...SETTINGS.map((s) => s.concurrency)) })
    cleanups.push([`${name} HTTP client`, async () => http.close()])
    variants.push({ name, suffix: WORKER_VARIANTS.length > 1 ? ` w=${workers}` : '', child, http })
  }
  const project = await createProject(variants[0]!.http, adminToken)

  const producer = createEventProducer(kafka, { timeoutMs: 10_000 })
  cleanups.push(['baseline producer', () => producer.disconnect()])
  await producer.connect()

  // The same events for every setting: the fixture's runs, cut into batches of B.
  const codec = createEventCodec()
  const events = generateRuns(Math.ceil(POOL_EVENTS / 7), 20260301).flatMap((r) => r.events)
  const pools = new Map<number, { http: HttpBatch[]; kafka: OutgoingMessage[][] }>()
  for (const batch of new Set(SETTINGS.map((s) => s.batch))) {
    const batches = chunk(events, batch)
    if (batches.length === 0) throw new Error(`B=${batch} is larger than the pool of ${events.length} events`)
    pools.set(batch, {
      http: batches.map(toHttpBatch),
      kafka: await Promise.all(batches.map((b) => toKafkaMessages(b, codec, project.id))),
    })
  }
  const sample = pools.get(SETTINGS[0]!.batch)!
  const jsonBytes = sample.http.reduce((a, b) => a + b.json.length, 0)
  const gzipBytes = sample.http.reduce((a, b) => a + b.gzip.length, 0)
  const avroBytes = sample.kafka.flat().reduce((a, m) => a + m.value.length, 0)
  const n = sample.kafka.flat().length
  out(`events:  ${events.length} distinct (runs of 7: run_start, 5 x step_complete, run_complete), cycled`)
  out(`         ${Math.round(jsonBytes / n)} B JSON, ${Math.round(gzipBytes / n)} B gzipped JSON, ${Math.round(avroBytes / n)} B Avro per event`)
  out(`window:  ${WARMUP_MS / 1000} s warm-up, then ${WINDOW_MS / 1000} s counted, per measurement; raw and ingest alternate, ${ROUNDS} rounds`)
  out(`ingest:  SLUICE_INGEST_WORKERS=${args['ingest-workers'] ?? `default (${os.availableParallelism()})`}; its CPU is the primary's and every worker's`)
  if (variants.length > 1) out('         one ingest child per value; within a round their windows follow the raw one (raw, w=a, w=b)')
  out()

  const pids = new Map<string, number | undefined>([
    ['client', process.pid],
    ...variants.map((v) => [v.name, v.child.pid] as [string, number]),
    ['broker', localKafkaPid()],
  ])
  const probe = () => cpuSnapshot(pids)
  const rows: ThroughputRow[] = SETTINGS.flatMap((setting) => variants.map((variant) => ({ setting, variant, raw: [], ingest: [] })))
  // Raw and ingest alternate (ABAB...) over the rounds, so a drift in what else runs on the
  // machine hits both sides alike. The raw figure of a B x C is shared by its gzip setting.
  for (let round = 1; round <= ROUNDS; round++) {
    const rawThisRound = new Map<string, WindowResult<CpuSnapshot>>()
    // With several ingest children, every other round takes them in the opposite order.
    const roundRows = round % 2 === 1 ? rows : SETTINGS.flatMap((s) => rows.filter((r) => r.setting === s).reverse())
    for (const row of roundRows) {
      const { setting } = row
      const pool = pools.get(setting.batch)!
      const rawKey = `${setting.batch}x${setting.concurrency}`
      let raw = rawThisRound.get(rawKey)
      if (!raw) {
        note(`round ${round}/${ROUNDS} ${setting.label}: raw producer`)
        raw = await closedLoop({
          concurrency: setting.concurrency,
          warmupMs: WARMUP_MS,
          durationMs: WINDOW_MS,
          probe,
          send: async (seq) => {
            const messages = pool.kafka[seq % pool.kafka.length]!
            await producer.send(topics[0]!, messages)
            return messages.length
          },
        })
        rawThisRound.set(rawKey, raw)
      }
      row.raw.push(raw)
      const { http } = row.variant
      note(`round ${round}/${ROUNDS} ${setting.label}${row.variant.suffix}: POST /ingest`)
      const headers: Record<string, string> = { authorization: `Bearer ${project.ingest_key}`, 'content-type': 'application/json' }
      if (setting.gzip) headers['content-encoding'] = 'gzip'
      row.ingest.push(
        await closedLoop({
          concurrency: setting.concurrency,
          warmupMs: WARMUP_MS,
          durationMs: WINDOW_MS,
          probe,
          send: async (seq) => {
            const batch = pool.http[seq % pool.http.length]!
            const res = await http.post('/ingest', headers, setting.gzip ? batch.gzip : batch.json)
            if (res.status !== 200) throw new Error(`/ingest answered ${res.status}: ${res.text.slice(0, 200)}`)
            const processed = (JSON.parse(res.text) as { processed?: number }).processed
            if (processed !== batch.events) throw new Error(`/ingest processed ${processed} of ${batch.events}`)
            return batch.events
          },
        }),
      )
    }
  }
  printThroughput(rows)
  if (LATENCY_SHARE > 0) await latencyAtLoad(rows, pools, project.ingest_key, (messages) => producer.send(topics[0]!, messages))

  for (const v of variants) {
    await v.child.stop()
    // A worker the primary replaced costs a window's figures without ending the child: say so.
    const restarts = readFileSync(v.child.logFile, 'utf8').split('\n').filter((l) => l.includes('"msg":"ingest worker exited; starting another"'))
    if (restarts.length > 0) {
      childDied = true
      note(`${v.name}: ${restarts.length} worker(s) died during the run and were replaced; the log is kept:\n${restarts.join('\n')}`)
    }
  }
  if (args.profile) printProfile(profileDir, id)

  if (FRESHNESS_MS > 0) {
    const b100 = rows.filter((r) => r.setting.batch === 100 && !r.setting.gzip)
    const best = Math.max(...(b100.length ? b100 : rows).map((r) => rateOf(r.ingest)))
    const loads = args['freshness-rates']
      ? args['freshness-rates'].split(',').map(Number)
      : FRESHNESS_SHARES.map((share) => Math.round(best * share))
    await freshness(services, adminToken, topics.slice(2), groups, tmp, loads)
  }
  out()
  out(`total bench time ${Math.round((Date.now() - started) / 1000)} s`)
}

const LATENCY_SHARE = Number(args['latency-share'])
const LATENCY_BATCH = 100

/**
 * Latency of POST /ingest under a steady load that leaves it headroom: batches of 100 on a clock
 * at LATENCY_SHARE of the best closed-loop B=100 rate of each ingest child, ingest alone (no
 * processor competing, unlike the freshness part).
 */
async function latencyAtLoad(
  rows: readonly ThroughputRow[],
  pools: ReadonlyMap<number, { http: HttpBatch[]; kafka: OutgoingMessage[][] }>,
  ingestKey: string,
  produce: (messages: OutgoingMessage[]) => Promise<void>,
): Promise<void> {
  const pool = pools.get(LATENCY_BATCH)
  if (!pool) return
  const lines: string[] = []
  const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-')
  const line = (name: string, rate: number, r: Awaited<ReturnType<typeof openLoop>>) =>
    `| ${name} | ${Math.round(rate).toLocaleString('en-US')} | ${r.requests} | ${ms(percentile(r.latenciesMs, 0.5))} | ` +
    `**${ms(percentile(r.latenciesMs, 0.99))}** | ${ms(Math.max(...r.latenciesMs))} | ${r.late} | ${r.failures} |`
  for (const variant of new Set(rows.map((r) => r.variant))) {
    const b100 = rows.filter((r) => r.variant === variant && r.setting.batch === LATENCY_BATCH && !r.setting.gzip)
    if (b100.length === 0) continue
    const rate = Math.max(...b100.map((r) => rateOf(r.ingest))) * LATENCY_SHARE
    const loop = (send: (seq: number) => Promise<void>) =>
      openLoop({ requestsPerSecond: rate / LATENCY_BATCH, warmupMs: WARMUP_MS, durationMs: 2 * WINDOW_MS, maxInFlight: 16, send })
    // The baseline first, at the same rate: what the broker alone answers in, on this machine now.
    note(`latency${variant.suffix}: raw producer, ${Math.round(rate)} events/s in batches of ${LATENCY_BATCH}, open loop`)
    lines.push(line(`raw producer (for ${variant.name})`, rate, await loop((seq) => produce(pool.kafka[seq % pool.kafka.length]!))))
    note(`latency${variant.suffix}: POST /ingest, same load`)
    const headers = { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/json' }
    lines.push(
      line(
        variant.name,
        rate,
        await loop(async (seq) => {
          const res = await variant.http.post('/ingest', headers, pool.http[seq % pool.http.length]!.json)
          if (res.status !== 200) throw new Error(`/ingest answered ${res.status}`)
        }),
      ),
    )
  }
  out(`## Latency at ${Math.round(LATENCY_SHARE * 100)} % load (batches of ${LATENCY_BATCH} on a clock, at most 16 in flight, ingest alone, ${(2 * WINDOW_MS) / 1000} s)`)
  out()
  out('Counted from when the clock said to send (a late request counts its wait).')
  out()
  out('| sender | offered ev/s | requests | p50 ms | p99 ms | max ms | late | failed |')
  out('|---|---:|---:|---:|---:|---:|---:|---:|')
  for (const line of lines) out(line)
  out()
}

const WORKER_VARIANTS: Array<string | undefined> = args['ingest-workers']?.split(',').map((w) => w.trim()) ?? [undefined]

interface IngestVariant {
  /** Its name in the CPU shares, e.g. `ingest` or `ingest w=2`. */
  name: string
  /** After the setting's label in the tables: empty with one variant. */
  suffix: string
  child: SluiceChild
  http: ReturnType<typeof createHttpClient>
}

interface ThroughputRow {
  setting: Setting
  variant: IngestVariant
  /** One window per round. */
  raw: WindowResult<CpuSnapshot>[]
  ingest: WindowResult<CpuSnapshot>[]
}

/** Events per second over all rounds' windows together. */
function rateOf(windows: readonly WindowResult<CpuSnapshot>[]): number {
  return windows.reduce((a, w) => a + w.events, 0) / windows.reduce((a, w) => a + w.seconds, 0)
}

function printThroughput(rows: readonly ThroughputRow[]): void {
  const f = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-')
  const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-')
  const latencies = (windows: readonly WindowResult<CpuSnapshot>[]) => windows.flatMap((w) => w.latenciesMs)
  // CPU per event does not depend on how much CPU the rest of a shared machine left us.
  const us = (windows: readonly WindowResult<CpuSnapshot>[], name: string) => {
    const seconds = cpuUsed(
      windows.map((w) => w.probes),
      name,
    )
    const events = windows.reduce((a, w) => a + w.events, 0)
    return seconds === undefined || events === 0 ? '-' : ((seconds * 1e6) / events).toFixed(0)
  }
  out(`## Throughput (events/s acknowledged by the broker, acks=-1; ${ROUNDS} rounds of ${WINDOW_MS / 1000} s each side)`)
  out()
  out('| setting | raw producer ev/s | POST /ingest ev/s | ingest / raw | per round | ingest p50 ms | ingest p99 ms | raw p50 ms | raw p99 ms | CPU µs/event raw (client) | CPU µs/event ingest (server) |')
  out('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const { setting, variant, raw, ingest } of rows) {
    const perRound = ingest.map((w, i) => w.eventsPerSecond / raw[i]!.eventsPerSecond)
    const ingestMs = latencies(ingest)
    const rawMs = latencies(raw)
    out(
      `| ${setting.label}${variant.suffix} | ${f(rateOf(raw))} | ${f(rateOf(ingest))} | **${(rateOf(ingest) / rateOf(raw)).toFixed(2)}** | ` +
        `${perRound.map((r) => r.toFixed(2)).join(' ')} | ${ms(percentile(ingestMs, 0.5))} | ${ms(percentile(ingestMs, 0.99))} | ` +
        `${ms(percentile(rawMs, 0.5))} | ${ms(percentile(rawMs, 0.99))} | ${us(raw, 'client')} | ${us(ingest, variant.name)} |`,
    )
  }
  out()
  out('CPU during the counted windows (share of one core; 200 % = both cores of this machine):')
  const cpu = (windows: readonly WindowResult<CpuSnapshot>[]) =>
    cpuShares(
      windows.map((w) => w.probes),
      windows.reduce((a, w) => a + w.seconds, 0),
    )
  for (const { setting, variant, raw, ingest } of rows) {
    out(`  ${(setting.label + variant.suffix).padEnd(22)} raw:    ${cpu(raw)}`)
    out(`  ${''.padEnd(22)} ingest: ${cpu(ingest)}`)
  }
  for (const { setting, variant, raw, ingest } of rows) {
    for (const [side, windows] of [['raw', raw], ['ingest', ingest]] as const) {
      const failed = windows.reduce((a, w) => a + w.failures, 0)
      if (failed > 0) out(`FAILURES ${setting.label}${variant.suffix} ${side}: ${failed} failed, first: ${windows.find((w) => w.firstFailure)?.firstFailure}`)
    }
  }
  out()
}

function printProfile(dir: string, id: string): void {
  // With ingest workers each process writes one; the busiest (largest) is a worker's.
  const file = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort((a, b) => statSync(path.join(dir, b)).size - statSync(path.join(dir, a)).size)[0]
  if (!file) {
    out('(no CPU profile was written by the ingest child)')
    return
  }
  const kept = path.join(os.tmpdir(), `sluice-ingest-${id}.cpuprofile`)
  renameSync(path.join(dir, file), kept)
  out('## Where the ingest child spent its CPU (node --cpu-prof, whole run of the child)')
  out()
  out('```')
  for (const line of formatProfileSummary(summarizeCpuProfile(JSON.parse(readFileSync(kept, 'utf8'))))) out(line)
  out('```')
  out(`profile kept at ${kept} (open in Chrome DevTools or VS Code)`)
  out()
}

async function freshness(
  services: ServiceUrls,
  adminToken: string,
  topics: string[],
  groups: Record<string, string>,
  tmp: string,
  loads: readonly number[],
): Promise<void> {
  note('freshness: starting ingest and processor+query children on a fresh topic')
  const env = childEnv(services, adminToken, {
    SLUICE_TOPIC_EVENTS: topics[0]!,
    SLUICE_TOPIC_DEAD_LETTER: topics[1]!,
    ...groups,
    SLUICE_CHDB_PATH: path.join(tmp, 'chdb'),
  })
  // Ingest first: it creates the topics the processor subscribes to.
  const ingest = await startChild('ingest (freshness)', { roles: ['ingest'], env, logFile: path.join(tmp, 'fresh-ingest.log') })
  const processor = await startChild('processor+query', { roles: ['processor', 'query'], env, logFile: path.join(tmp, 'processor.log') })
  const ingestHttp = createHttpClient(ingest.url, { maxSockets: 16 })
  const queryHttp = createHttpClient(processor.url, { maxSockets: 32 })
  cleanups.push(['freshness HTTP clients', async () => (ingestHttp.close(), queryHttp.close())])
  const project = await createProject(ingestHttp, adminToken)
  const o = { ingest: ingestHttp, query: queryHttp, ingestKey: project.ingest_key, queryKey: project.query_key }
  const warm = await warmUpPipeline(o, 60_000)
  note(`freshness: pipeline warm (first run COMPLETED after ${Math.round(warm)} ms)`)

  const runsFunnelGroup = groups.SLUICE_RUNS_FUNNEL_GROUP!
  /** Messages the runs-funnel group has not committed yet, over all partitions. */
  const runsFunnelLag = async () => {
    const res = await queryHttp.get('/api/ops/lag', { authorization: `Bearer ${adminToken}` })
    if (res.status !== 200) return undefined
    const rows = JSON.parse(res.text) as Array<{ group: string; lag: number }>
    return rows.filter((r) => r.group === runsFunnelGroup).reduce((a, r) => a + r.lag, 0)
  }
  const pids = new Map([
    ['client', process.pid],
    ['ingest', ingest.pid],
    ['processor+query', processor.pid],
    ['broker', localKafkaPid()],
  ])

  const ms = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-')
  const lines: string[] = []
  const cpuLines: string[] = []
  for (const [i, rate] of loads.entries()) {
    note(`freshness: offering ${rate} events/s for ${FRESHNESS_MS / 1000} s`)
    const before = cpuSnapshot(pids)
    let lagAtEnd: number | undefined
    const t0 = performance.now()
    const r = await measureFreshness({
      ...o,
      eventsPerSecond: rate,
      runsPerBatch: 14,
      durationMs: FRESHNESS_MS,
      samplesPerSecond: 5,
      pollIntervalMs: 20,
      maxInFlight: 16,
      sampleTimeoutMs: SAMPLE_TIMEOUT_MS,
      seed: 20260302 + i,
      onLoadEnd: async () => {
        cpuLines.push(`  ${ms(rate).padStart(6)} ev/s offered: ${cpuShares([[before, cpuSnapshot(pids)]], (performance.now() - t0) / 1000)}`)
        lagAtEnd = await runsFunnelLag()
      },
    })
    const all = freshnessFigures(r.samples)
    const half = FRESHNESS_MS / 2
    const first = freshnessFigures(r.samples.filter((s) => s.ackAtMs < half))
    const second = freshnessFigures(r.samples.filter((s) => s.ackAtMs >= half))
    lines.push(
      `| ${ms(rate)} | ${ms(r.acknowledgedEventsPerSecond)} | ${r.delayedBatches} | ${ms(percentile(r.ingestLatenciesMs, 0.5))} / ${ms(percentile(r.ingestLatenciesMs, 0.99))} | ` +
        `${lagAtEnd === undefined ? '-' : ms(lagAtEnd)} | ${all.count} | **${ms(all.p50)}** | **${ms(all.p99)}** | ${ms(all.max)} | ${r.timeouts} | ${ms(first.p50)} → ${ms(second.p50)} |`,
    )
  }

  out(`## Freshness: /ingest ack of a run's run_complete → GET /runs/{id} says COMPLETED (polled every 20 ms)`)
  out()
  out(`${FRESHNESS_MS / 1000} s per load, lightest first, open loop: batches of 14 whole runs (98 events) on a clock, at most 16 in flight;`)
  out('5 runs a second sampled; "late" = batches the clock had to hold back because 16 were in flight.')
  out('The processor child runs every processor of the role (runs-funnel, logs, reactions) and the query API.')
  out()
  out(
    '| offered ev/s | acked ev/s | late | /ingest p50 / p99 ms | runs-funnel lag at end | samples | p50 ms | p99 ms | max ms | ' +
      `timeouts (${SAMPLE_TIMEOUT_MS / 1000} s) | p50 1st → 2nd half |`,
  )
  out('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const line of lines) out(line)
  out()
  out('CPU during each load (share of one core):')
  for (const line of cpuLines) out(line)

  await processor.stop()
  await ingest.stop()
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
    ...(WORKER_VARIANTS.length === 1 && WORKER_VARIANTS[0] !== undefined ? { SLUICE_INGEST_WORKERS: WORKER_VARIANTS[0] } : {}),
    ...extra,
  }
}

/** Set when a child died during the run: its log is then kept, whatever --keep says. */
let childDied = false

async function startChild(name: string, options: Omit<Parameters<typeof startSluiceChild>[0], 'name' | 'onUnexpectedExit'>): Promise<SluiceChild> {
  const onUnexpectedExit = ({ code, signal, logTail }: { code: number | null; signal: NodeJS.Signals | null; logTail: string }) => {
    childDied = true
    note(`${name} exited unexpectedly (code ${code}, signal ${signal}); its log (kept) ends:\n${logTail}`)
  }
  const child = await retryWhileKafkaStarts(name, () => startSluiceChild({ name, ...options, onUnexpectedExit }))
  cleanups.push([name, () => child.stop()])
  note(`${name} child pid ${child.pid} on ${child.url} (log ${child.logFile})`)
  return child
}

async function createProject(http: ReturnType<typeof createHttpClient>, adminToken: string) {
  const res = await http.post(
    '/api/projects',
    { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    Buffer.from(JSON.stringify({ name: `bench-${randomUUID().slice(0, 8)}` })),
  )
  if (res.status !== 201) throw new Error(`POST /api/projects answered ${res.status}: ${res.text}`)
  return JSON.parse(res.text) as { id: string; ingest_key: string; query_key: string }
}

await runBench(main, cleanups)
