import { mkdtempSync, realpathSync, rmSync, watch } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../lib/config.ts'
import {
  expectedAnalysis,
  expectedPipelineFunnel,
  generateRun,
  prng,
  shuffledBatches,
  type GeneratedRun,
} from './fixtures/pipeline-runs.ts'
import { killAllSluiceChildren, spawnSluice, type ChildSluice, type SpawnedSluice } from './helpers/child-sluice.ts'
import { ADMIN_TOKEN, sluiceClient, testEnv, type TestProject, type TestSluice } from './helpers/test-sluice.ts'
import { expectAnalysis, expectFunnel } from './helpers/expect-funnel.ts'

// The requirement: killing the processor with SIGKILL in the middle of a large ingest and
// starting it again loses no event and counts none twice.
//
// Two child processes share one environment (topics, consumer group): A runs `--role ingest` (it
// never opens ClickHouse) and takes the whole ingest; B runs `--role processor --role query` and
// owns the chdb data directory. B is killed twice while it is storing batches, each time with
// acknowledged events it has not yet committed, and started again on the same data directory.
//
// A SIGKILLed consumer leaves its group only when its session times out
// (SLUICE_CONSUMER_SESSION_TIMEOUT_MS; testEnv() makes it short), so each kill costs about that
// long before B consumes again.

const SEED = 20261123
const RUN_COUNT = 450 // × 7 events, plus ~10 % resent: ~3,450 events
const BATCH_SIZE = 45
// B has stored and committed a few batches before the first kill.
const MIN_COMMITTED_BEFORE_KILL = 100
const HOUR = 3_600_000

interface LagRow {
  group: string
  partition: number
  committed_offset: number
  end_offset: number
  lag: number
}

interface LagTotals {
  committed: number
  end: number
  lag: number
}

interface KillRecord {
  /** What the kill waited for. */
  when: string
  /** Events A had acknowledged (so Kafka held) when the kill was sent. */
  acknowledged: number
  /** Offsets the killed B committed: final, since it is dead. */
  committed: number
  /** Whether a stored run was queryable before the kill: B answered /runs with one (or, for a B killed
   * before it listened, the B before it did, on the same data directory). */
  runQueryable: boolean | null
  /** Batches acknowledged by A when the kill was sent, of all batches. */
  batchesSent: number
  batchCount: number
}

describe('runs-funnel processor killed with SIGKILL in the middle of a large ingest', () => {
  const rand = prng(SEED)
  const base = Math.floor(Date.UTC(2026, 10, 21, 6, 0, 0) / HOUR) * HOUR
  // Spread over almost four hours, so the rollup has several buckets per step.
  const runs: GeneratedRun[] = Array.from({ length: RUN_COUNT }, (_, i) => generateRun(rand, 'recs', base + i * 30_000 + 777))
  // Shuffled: steps often come before their run_start, and resends arrive in later batches.
  const batches = shuffledBatches(
    runs.flatMap((r) => r.events),
    rand,
    BATCH_SIZE,
    0.1,
  )

  let env: Record<string, string>
  let chdbDir: string | undefined
  let ingest: ChildSluice
  let processor: ChildSluice
  let ingestApi: TestSluice
  let queryApi: TestSluice
  let project: TestProject
  const kills: KillRecord[] = []
  let sent = 0
  let acknowledged = 0
  let started = 0

  const processorRoles = ['processor', 'query'] as const
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`

  async function startProcessor(onSpawn?: (child: SpawnedSluice) => void): Promise<void> {
    processor = await spawnSluice({ roles: processorRoles, env, onSpawn })
    queryApi = sluiceClient(processor.url, loadConfig(env, { roles: processorRoles }))
  }

  async function lag(): Promise<LagTotals> {
    const res = await ingestApi.get<LagRow[]>('/api/ops/lag', { key: ADMIN_TOKEN })
    if (res.status !== 200) throw new Error(`/api/ops/lag: ${res.status} ${JSON.stringify(res.body)}`)
    // Only the runs-funnel group: the other processors' groups commit on their own schedule.
    const rows = res.body.filter((r) => r.group === env.SLUICE_RUNS_FUNNEL_GROUP)
    if (rows.length === 0) throw new Error(`/api/ops/lag lists no partition of ${env.SLUICE_RUNS_FUNNEL_GROUP}: ${JSON.stringify(res.body)}`)
    const totals = { committed: 0, end: 0, lag: 0 }
    for (const r of rows) {
      totals.committed += r.committed_offset
      totals.end += r.end_offset
      totals.lag += r.lag
    }
    return totals
  }

  /** Whether B answers with at least one stored run. */
  async function someRunQueryable(): Promise<boolean> {
    const res = await queryApi.get<unknown[]>('/runs?limit=1', { key: project.query_key }).catch(() => null)
    return res?.status === 200 && res.body.length > 0
  }

  /** Sends batches in order up to (not including) `until`, each acknowledged by the broker before the next. */
  async function ingestUntil(until: number, pauseMs: number): Promise<void> {
    while (sent < until) {
      const batch = batches[sent]!
      const res = await ingestApi.post('/ingest', { key: project.ingest_key, body: { events: batch }, gzip: sent % 2 === 0 })
      if (res.status !== 200) throw new Error(`/ingest batch ${sent}: ${res.status} ${JSON.stringify(res.body)}`)
      sent++
      acknowledged += batch.length
      await sleep(pauseMs)
    }
  }

  /** SIGKILLs B at once and records what it had done by then. */
  async function killProcessor(b: SpawnedSluice, when: string, runQueryable: boolean | null): Promise<void> {
    const record = { when, acknowledged, runQueryable, batchesSent: sent, batchCount: batches.length }
    b.kill('SIGKILL')
    await b.stopped
    const kill: KillRecord = { ...record, committed: (await lag()).committed }
    kills.push(kill)
    console.info(`[processor-crash] kill ${kills.length} at ${elapsed()}: ${JSON.stringify(kill)}`)
  }

  beforeAll(async () => {
    started = Date.now()
    env = testEnv({ LOG_LEVEL: 'info' })
    if (!env.CLICKHOUSE_URL) {
      // B's own data directory: it must survive B's deaths, and no other process may open it.
      chdbDir = mkdtempSync(join(tmpdir(), 'sluice-processor-crash-'))
      env.SLUICE_CHDB_PATH = join(chdbDir, 'chdb')
    }
    const [a] = await Promise.all([spawnSluice({ roles: ['ingest'], env }), startProcessor()])
    ingest = a
    ingestApi = sluiceClient(ingest.url, loadConfig(env, { roles: ['ingest'] }))
    project = await ingestApi.createProject()
    const total = batches.reduce((n, b) => n + b.length, 0)
    console.info(`[processor-crash] A and B up at ${elapsed()}; ${batches.length} batches, ${total} events`)

    // 1. The whole ingest, a little faster than B stores it. B is killed while this goes on, once
    // it has stored and committed a few batches and lags a batch or more behind, with at least
    // 30 % of the batches still to send while B is dead.
    const killBefore = Math.floor(batches.length * 0.7)
    const ingesting = ingestUntil(batches.length, 20)
    ingesting.catch(() => {}) // awaited below; this only keeps it from counting as unhandled meanwhile
    const deadline = Date.now() + 30_000
    let runSeen = false
    for (;;) {
      // Runs never disappear: once B has answered with one, only the lag (asked of A) is polled,
      // which keeps the polling off B.
      const [l, queryable]: [LagTotals, boolean] = await Promise.all([lag(), runSeen || someRunQueryable()])
      runSeen = queryable
      if (runSeen && l.committed >= MIN_COMMITTED_BEFORE_KILL && l.lag >= BATCH_SIZE && sent < killBefore) {
        await killProcessor(processor, `lag ${l.lag} with ${l.committed} committed, during the ingest`, runSeen)
        break
      }
      if (Date.now() > deadline || sent >= killBefore) {
        throw new Error(`B was never caught mid-stream (lag ${JSON.stringify(l)}, ${sent} batches sent). B:\n${processor.logs().slice(-8000)}`)
      }
      await sleep(10)
    }

    // 2. B again on the same data directory, killed at the most delicate moment: a batch of the
    // backlog has written its step rows but not yet (or only just) its rollup deltas and marker,
    // so the next B must replay that batch over rows that are already there. With chdb the moment
    // is the new part of the steps table on disk, watched from before B starts (it may consume at
    // once, if its predecessor's session has expired meanwhile). With a ClickHouse server, it is
    // the first "batch stored" line, while B still works through the other partitions.
    // Runs stay queryable across the kill: they are in the data directory the first B wrote.
    if (chdbDir) {
      const partWritten = newInsertedPart(join(env.SLUICE_CHDB_PATH!, 'data', env.CLICKHOUSE_DATABASE!, 'steps'), 60_000)
      let spawned: SpawnedSluice | undefined
      const starting = startProcessor((child) => (spawned = child))
      starting.catch(() => {}) // it may be killed before it listens
      const part = await partWritten
      // B may not listen yet, so whether it answers queries cannot be asked of it here.
      await killProcessor(spawned!, `a batch after the restart wrote its step rows (part ${part})`, null)
    } else {
      await startProcessor()
      const runQueryable = await someRunQueryable()
      const firstBatch = await processor.waitForLog((line) => line.msg === 'batch stored', 60_000)
      await killProcessor(processor, `first batch stored after the restart (partition ${String(firstBatch.partition)})`, runQueryable)
    }
    await ingesting

    // 3. B a third time: it recovers from both crashes.
    await startProcessor()

    // Every acknowledged event processed by the runs-funnel group (the other groups are not this test's).
    await waitFor(async () => (await lag()).lag === 0, 80_000, 'the runs-funnel group to catch up')
    console.info(`[processor-crash] all processed at ${elapsed()}`)
  }, 170_000)

  afterAll(async () => {
    await killAllSluiceChildren()
    if (chdbDir) rmSync(chdbDir, { recursive: true, force: true })
  })

  it('killed B while it was storing: runs were queryable and acknowledged events not yet committed', () => {
    expect(kills).toHaveLength(2)
    // The first B answered with a stored run before it died; the second was killed right after a
    // batch wrote its step rows (with chdb: a new part of the steps table), before it listened.
    expect(kills[0]!.runQueryable).toBe(true)
    if (chdbDir) expect(kills[1]!.when).toMatch(/wrote its step rows \(part all_\d+_\d+_\d+\)/)
    else expect(kills[1]!.runQueryable).toBe(true)
    for (const kill of kills) {
      expect(kill.committed).toBeGreaterThan(0)
      // Offsets are contiguous from 0 and one event is one message, so B (whose commits are final
      // once it is dead) had not processed everything acknowledged when the kill was sent.
      expect(kill.committed).toBeLessThan(kill.acknowledged)
    }
    // The first kill landed while A was still ingesting.
    expect(kills[0]!.batchesSent).toBeLessThan(kills[0]!.batchCount)
  })

  it('answers /pipelines/{name}/funnel with every step of every run counted once', async () => {
    const res = await queryApi.get<any[]>('/pipelines/recs/funnel', { key: project.query_key })
    expect(res.status).toBe(200)
    expectFunnel(res.body, expectedPipelineFunnel(runs))
  })

  it('answers a funnel range cutting through hours (raw steps at the edges) exactly', async () => {
    const from = base + 40 * 60_000
    const to = base + 3 * HOUR + 5 * 60_000
    const inRange = runs.filter((r) => r.started_at >= from && r.started_at < to)
    const res = await queryApi.get<any[]>(`/pipelines/recs/funnel?from=${from}&to=${to}`, { key: project.query_key })
    expect(res.status).toBe(200)
    expectFunnel(res.body, expectedPipelineFunnel(inRange))
  })

  it('lists every run exactly once, with its status and five steps', async () => {
    const seen: Array<{ id: string; status: string; step_count: number }> = []
    let path: string | null = '/runs?name=recs&limit=1000'
    while (path) {
      const res: { status: number; headers: Headers; body: typeof seen } = await queryApi.get<typeof seen>(path, { key: project.query_key })
      expect(res.status).toBe(200)
      seen.push(...res.body)
      path = /<([^>]+)>; rel="next"/.exec(res.headers.get('link') ?? '')?.[1] ?? null
    }
    const expected = [...runs].sort((a, b) => b.started_at - a.started_at)
    expect(seen.map((r) => r.id)).toEqual(expected.map((r) => r.run_id))
    expect(seen.map((r) => r.status)).toEqual(expected.map((r) => r.status.toUpperCase()))
    expect(seen.every((r) => r.step_count === 5)).toBe(true)
  })

  it('answers /analyze with every number of a sample of runs', async () => {
    const pick = prng(SEED + 1)
    const sample = Array.from({ length: 30 }, () => runs[Math.floor(pick() * runs.length)]!)
    for (const run of sample) {
      const expected = expectedAnalysis(run)
      const res = await queryApi.get<Record<string, any>>(`/analyze/${run.run_id}`, { key: project.query_key })
      expect(res.status).toBe(200)
      expectAnalysis(res.body, expected)
    }
  })

  it('still shuts down in order on SIGTERM after the crashes', async () => {
    processor.kill('SIGTERM')
    ingest.kill('SIGTERM')
    const codes = await Promise.all([processor.stopped, ingest.stopped])
    expect(codes, `B:\n${processor.logs().slice(-4000)}\nA:\n${ingest.logs().slice(-4000)}`).toEqual([0, 0])
  }, 40_000)
})


/**
 * Resolves as soon as an INSERT adds a part to a MergeTree table of chdb's data directory: a part
 * named `all_N_N_L` (one block number; merges name theirs `all_M_N_L` with M < N).
 */
function newInsertedPart(tableDir: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const watcher = watch(realpathSync(tableDir), (_event, name) => {
      const m = name ? /^all_(\d+)_(\d+)_\d+$/.exec(name) : null
      if (m && m[1] === m[2]) done(() => resolve(name!))
    })
    const timer = setTimeout(() => done(() => reject(new Error(`no new part in ${tableDir} within ${timeoutMs} ms`))), timeoutMs)
    function done(settle: () => void) {
      clearTimeout(timer)
      watcher.close()
      settle()
    }
  })
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(50)
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
