/**
 * The TypeScript SDK's cost: what recording one event costs the caller, and how many events per
 * second one process can push to a local Sluice. Prints figures; never part of `npm test`.
 *
 *   node --import tsx sdk/typescript/bench/sdk-overhead.ts                  # about half a minute
 *   node --import tsx sdk/typescript/bench/sdk-overhead.ts --events 50000 --seconds 3
 *   node --import tsx sdk/typescript/bench/sdk-overhead.ts --url URL --admin-token TOKEN
 *   node --import tsx sdk/typescript/bench/sdk-overhead.ts --no-server      # overhead only
 *
 * 1. Overhead: µs per event for `sluice.log(...)` and for one `run.step(...)` (a `step_complete`),
 *    nothing being sent meanwhile; against a baseline measured in the same run: building the same
 *    event object by hand (randomUUID, ISO timestamp), then also JSON.stringify of it. The median
 *    of --rounds rounds.
 * 2. Throughput: runs of five steps (20 candidates each; seven events a run), then log events,
 *    recorded as fast as the queue drains (the producer yields to I/O after each run or hundred
 *    logs, and waits while more than half of maxQueueSize is queued), default options, to a Sluice started in a child process like the Python
 *    fixture does (scripts/services-up.sh, then server.ts), with its rate limit off.
 *    Events/s = events the server accepted / time until the last flush.
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { DEFAULTS, SDK_VERSION, Sluice } from '../src/index.ts'

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '5' },
    url: { type: 'string' },
    'admin-token': { type: 'string' },
    'no-server': { type: 'boolean', default: false },
  },
})

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const out = (line = '') => process.stdout.write(`${line}\n`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A client that sends nothing while measured: large thresholds, room for every event. */
function quietClient(n: number): Sluice {
  return new Sluice({
    endpoint: 'http://127.0.0.1:9',
    apiKey: 'k',
    flushAt: 1e9,
    flushIntervalMs: 1e9,
    maxQueueSize: n + 10,
    maxQueueBytes: 2 ** 40,
    flushOnExit: false,
  })
}

async function perEventUs(fn: (n: number) => unknown, n: number, rounds: number): Promise<number> {
  const times: number[] = []
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now()
    await fn(n)
    times.push(((performance.now() - t0) / n) * 1000)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)]!
}

async function overhead(n: number, rounds: number): Promise<void> {
  const attributes = { order_id: 42, region: 'eu' }
  const iso = () => new Date(Date.now()).toISOString()

  const handLog = (count: number, stringify = false) => {
    const sink: unknown[] = []
    for (let i = 0; i < count; i++) {
      const e = { id: randomUUID(), type: 'log', timestamp: iso(), data: { level: 'error', message: 'payment timeout', service: 'checkout', attributes: { ...attributes } } }
      sink.push(stringify ? JSON.stringify(e) : e)
    }
  }
  const sdkLog = async (count: number) => {
    const c = quietClient(count)
    for (let i = 0; i < count; i++) c.log({ level: 'error', message: 'payment timeout', service: 'checkout', attributes })
    await c.shutdown(0)
  }
  const handStep = async (count: number, stringify = false) => {
    const sink: unknown[] = []
    const runId = randomUUID()
    for (let i = 0; i < count; i++) {
      // The same promise per step as run.step() gives its caller.
      const e = await Promise.resolve().then(() => {
        const startedAt = iso()
        return {
          id: randomUUID(),
          type: 'step_complete',
          timestamp: iso(),
          data: { step_id: randomUUID(), run_id: runId, name: 'dedupe', type: 'filter', inputs: { query: 'shoes' }, outputs: { kept: 2 }, cost: 0.002, started_at: startedAt, completed_at: iso() },
        }
      })
      sink.push(stringify ? JSON.stringify(e) : e)
    }
  }
  const sdkStep = async (count: number) => {
    const c = quietClient(count + 2)
    await c.run({ name: 'bench' }, async (run) => {
      for (let i = 0; i < count; i++) {
        await run.step({ name: 'dedupe', type: 'filter' }, (s) => {
          s.input({ query: 'shoes' })
          s.output({ kept: 2 })
          s.cost(0.002)
        })
      }
    })
    await c.shutdown(0)
  }

  out(`## Overhead per event (median of ${rounds} rounds of ${n} events; nothing sent meanwhile)`)
  out()
  out('| event | SDK µs | by hand µs | ratio | by hand + JSON.stringify µs | ratio |')
  out('| --- | --- | --- | --- | --- | --- |')
  const cases: Array<[string, (n: number) => unknown, (n: number, s?: boolean) => unknown]> = [
    ['log', sdkLog, handLog],
    ['step_complete (with run.step)', sdkStep, handStep],
  ]
  for (const [label, sdk, hand] of cases) {
    await sdk(2000) // warm up
    await hand(2000)
    const s = await perEventUs(sdk, n, rounds)
    const h = await perEventUs((k) => hand(k), n, rounds)
    const hj = await perEventUs((k) => hand(k, true), n, rounds)
    out(`| ${label} | ${s.toFixed(2)} | ${h.toFixed(2)} | ${(s / h).toFixed(2)}x | ${hj.toFixed(2)} | ${(s / hj).toFixed(2)}x |`)
  }
  out()
}

interface Target {
  url: string
  adminToken: string
}

async function createProject(t: Target): Promise<string> {
  const res = await fetch(`${t.url}/api/projects`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: `bench-${randomUUID().slice(0, 8)}` }),
  })
  if (res.status !== 201) throw new Error(`POST /api/projects: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { ingest_key: string }).ingest_key
}

async function push(t: Target, seconds: number, kind: 'runs' | 'logs', maxInFlight: number) {
  const c = new Sluice({ endpoint: t.url, apiKey: await createProject(t), flushOnExit: false, maxInFlight })
  const half = 5000
  const candidates = Array.from({ length: 20 }, (_, i) => i)
  const t0 = performance.now()
  const end = t0 + seconds * 1000
  let recorded = 0
  while (performance.now() < end) {
    if (kind === 'runs') {
      await c.run({ name: 'bench', tags: { env: 'bench' } }, async (run) => {
        for (let i = 0; i < 5; i++) {
          await run.step({ name: `step-${i}`, type: 'filter' }, (s) => {
            s.input({ query: 'shoes', page: i })
            s.processCandidates(candidates, (x) => (x % 4 ? true : 'dropped'))
            s.output({ kept: 15 })
          })
        }
      })
      recorded += 7
    } else {
      for (let i = 0; i < 100; i++) c.log({ level: 'info', message: 'checkout completed', service: 'checkout', attributes: { order_id: recorded + i } })
      recorded += 100
    }
    // TRICKY: a loop that only awaits promises never lets Node read a response: yield to I/O
    // after each run or hundred logs, as a service doing real work would. And the SDK drops the
    // oldest events when its queue is full, so a benchmark of delivery must not outrun it: it
    // waits while half the queue is full.
    await new Promise((r) => setImmediate(r))
    while (c.stats().queued > half) await sleep(1)
  }
  await c.flush()
  const elapsed = (performance.now() - t0) / 1000
  const stats = c.stats()
  await c.shutdown()
  const dropped = Object.values(stats.dropped).reduce((a, b) => a + b, 0)
  return { ...stats, recorded, elapsed, droppedTotal: dropped }
}

async function throughput(t: Target, seconds: number): Promise<void> {
  out('## Events/s one process pushes to a local Sluice (default options: flushAt 100, maxBatchEvents 1000, gzip)')
  out()
  out('maxInFlight 1 (one request at a time) is the baseline, measured in the same run, alternating.')
  out()
  out('| workload | maxInFlight | events/s accepted | events | requests | events/request | retries | dropped |')
  out('| --- | --- | --- | --- | --- | --- | --- | --- |')
  for (const [kind, label] of [
    ['runs', 'runs of 5 steps (7 events/run)'],
    ['logs', 'log events'],
  ] as const) {
    for (const maxInFlight of [1, DEFAULTS.maxInFlight]) {
      const r = await push(t, seconds, kind, maxInFlight)
      const perRequest = r.sent / Math.max(1, r.requests - r.retries)
      out(`| ${label} | ${maxInFlight} | ${(r.sent / r.elapsed).toFixed(0)} | ${r.sent} | ${r.requests} | ${perRequest.toFixed(0)} | ${r.retries} | ${r.droppedTotal} |`)
    }
  }
  out()
}

/** scripts/services-up.sh, then `node --import tsx server.ts` with its own topics and ClickHouse. */
async function startLocalSluice(): Promise<Target & { stop: () => Promise<void> }> {
  const services = await new Promise<Record<string, string>>((resolve, reject) => {
    const child = spawn('bash', ['scripts/services-up.sh'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
    let stdout = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`scripts/services-up.sh exited ${code}`))
      resolve(Object.fromEntries(stdout.split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])))
    })
  })
  const id = randomUUID().slice(0, 8)
  const chdb = mkdtempSync(join(tmpdir(), 'sluice-sdk-bench-chdb-'))
  const adminToken = `bench-admin-${randomUUID()}`
  // eslint-disable-next-line no-restricted-syntax -- a benchmark script (as bench/** is): the child needs PATH and HOME
  const env = process.env
  const inherited = Object.fromEntries(['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'].flatMap((k) => (env[k] ? [[k, env[k]!]] : [])))
  const child = spawn(process.execPath, ['--import', 'tsx', 'server.ts'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...inherited,
      KAFKA_BROKERS: services.KAFKA_BROKERS!,
      DATABASE_URL: services.DATABASE_URL!,
      REDIS_URL: services.REDIS_URL!,
      PORT: '0',
      HOST: '127.0.0.1',
      SLUICE_ADMIN_TOKEN: adminToken,
      SLUICE_CHDB_PATH: chdb,
      SLUICE_TOPIC_EVENTS: `bench.sdk.${id}`,
      SLUICE_TOPIC_DEAD_LETTER: `bench.sdk.${id}.dlq`,
      SLUICE_RUNS_FUNNEL_GROUP: `bench-sdk-runs-funnel-${id}`,
      SLUICE_RATE_LIMIT_EVENTS_PER_SECOND: '0',
      CLICKHOUSE_DATABASE: 'sluice_bench',
      LOG_LEVEL: 'info',
    },
  })
  let log = ''
  child.stderr.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-8000)))
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sluice did not start within 120 s:\n${log}`)), 120_000)
    let partial = ''
    child.stdout.on('data', (c: Buffer) => {
      const lines = (partial + c.toString()).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) {
        log = (log + line + '\n').slice(-8000)
        if (!line.includes('"msg":"sluice started"')) continue
        clearTimeout(timer)
        resolve((JSON.parse(line) as { port: number }).port)
      }
    })
    child.on('exit', (code) => reject(new Error(`sluice exited (${code}) before starting:\n${log}`)))
  })
  return {
    url: `http://127.0.0.1:${port}`,
    adminToken,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
      await exited
      clearTimeout(timer)
      rmSync(chdb, { recursive: true, force: true })
    },
  }
}

async function main(): Promise<void> {
  out(`# @sluice/sdk ${SDK_VERSION} on Node ${process.version}`)
  out()
  await overhead(Number(args.events), Number(args.rounds))
  if (args['no-server']) return
  if (args.url && args['admin-token']) {
    await throughput({ url: args.url, adminToken: args['admin-token'] }, Number(args.seconds))
    return
  }
  process.stderr.write('(starting a local Sluice: scripts/services-up.sh, then server.ts, rate limit off)\n')
  const sluice = await startLocalSluice()
  try {
    await throughput(sluice, Number(args.seconds))
  } finally {
    await sluice.stop()
  }
}

await main()
