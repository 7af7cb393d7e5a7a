/**
 * Freshness: how long after /ingest acknowledged a run's run_complete the query API shows the run
 * COMPLETED, under a steady open-loop load (batches sent on a clock, not when the last one returns).
 */
import { percentile, sleep, type HttpClient } from './load.ts'
import type { GeneratedRun } from '../../test/fixtures/pipeline-runs.ts'
import { EVENTS_PER_RUN, generateRuns, toHttpBatch } from './workload.ts'

// Batches built ahead of a load: every default load (up to 10k ev/s for 20 s) fits.
const PREBUILT = 2_500

export interface FreshnessOptions {
  ingest: HttpClient
  query: HttpClient
  ingestKey: string
  queryKey: string
  /** Offered load; batches are whole runs, so the interval is runsPerBatch * 7 / rate. */
  eventsPerSecond: number
  runsPerBatch: number
  durationMs: number
  samplesPerSecond: number
  pollIntervalMs: number
  /** Concurrent /ingest requests at most; past it the clock waits (counted as `delayedBatches`). */
  maxInFlight: number
  sampleTimeoutMs: number
  seed: number
  /** Runs once the last batch is acknowledged, before the outstanding samples finish. */
  onLoadEnd?: () => Promise<void>
}

export interface FreshnessResult {
  offeredEventsPerSecond: number
  acknowledgedEventsPerSecond: number
  batches: number
  ingestFailures: number
  delayedBatches: number
  ingestLatenciesMs: number[]
  /** ms from the ack of the batch to COMPLETED, by sample, with the ack time since the start. */
  samples: Array<{ ackAtMs: number; freshnessMs: number }>
  timeouts: number
  polls: number
}

export async function measureFreshness(o: FreshnessOptions): Promise<FreshnessResult> {
  const eventsPerBatch = o.runsPerBatch * EVENTS_PER_RUN
  const intervalMs = (eventsPerBatch / o.eventsPerSecond) * 1000
  const batchCount = Math.max(1, Math.floor(o.durationMs / intervalMs))
  // Bodies are built before the clock starts, so the load costs the bench nothing but sending; a
  // long load (a soak) would not fit in memory that way: past PREBUILT batches, each one is built
  // from its own seed when it is due.
  const build = (batchRuns: GeneratedRun[]) => ({ runs: batchRuns, body: toHttpBatch(batchRuns.flatMap((r) => r.events)).json })
  const prebuilt = Math.min(batchCount, PREBUILT)
  const runs = generateRuns(prebuilt * o.runsPerBatch, o.seed, 'bench-freshness')
  const batches = Array.from({ length: prebuilt }, (_, i) => build(runs.slice(i * o.runsPerBatch, (i + 1) * o.runsPerBatch)))
  const batchAt = (i: number) => batches[i] ?? build(generateRuns(o.runsPerBatch, o.seed + i, 'bench-freshness'))
  const sampleEvery = Math.max(1, Math.round(1000 / intervalMs / o.samplesPerSecond))
  const ingestHeaders = { authorization: `Bearer ${o.ingestKey}`, 'content-type': 'application/json' }

  const result: FreshnessResult = {
    offeredEventsPerSecond: o.eventsPerSecond,
    acknowledgedEventsPerSecond: 0,
    batches: batchCount,
    ingestFailures: 0,
    delayedBatches: 0,
    ingestLatenciesMs: [],
    samples: [],
    timeouts: 0,
    polls: 0,
  }
  const pollers: Promise<void>[] = []
  const inFlight = new Set<Promise<void>>()
  let acknowledged = 0
  const t0 = performance.now()

  const pollOptions: PollOptions = {
    query: o.query,
    queryKey: o.queryKey,
    pollIntervalMs: o.pollIntervalMs,
    timeoutMs: o.sampleTimeoutMs,
    onPoll: () => result.polls++,
  }
  const sample = async (runId: string, ackAt: number) => {
    const ms = await msUntilCompleted(runId, ackAt, pollOptions)
    if (ms === undefined) result.timeouts++
    else result.samples.push({ ackAtMs: ackAt - t0, freshnessMs: ms })
  }

  const send = async (i: number) => {
    const batch = batchAt(i)
    const sentAt = performance.now()
    const res = await o.ingest.post('/ingest', ingestHeaders, batch.body).catch((err: unknown) => ({ status: 0, text: String(err) }))
    const ackAt = performance.now()
    if (res.status !== 200) {
      result.ingestFailures++
      return
    }
    acknowledged += eventsPerBatch
    result.ingestLatenciesMs.push(ackAt - sentAt)
    if (i % sampleEvery === 0) {
      // The batch's last run that completes (20 % of the fixture's runs fail instead).
      const run = batch.runs.findLast((r) => r.status === 'completed')
      if (run) pollers.push(sample(run.run_id, ackAt))
    }
  }

  for (let i = 0; i < batchCount; i++) {
    const wait = t0 + i * intervalMs - performance.now()
    if (wait > 0) await sleep(wait)
    if (inFlight.size >= o.maxInFlight) {
      result.delayedBatches++
      while (inFlight.size >= o.maxInFlight) await Promise.race(inFlight)
    }
    const p: Promise<void> = send(i).finally(() => inFlight.delete(p))
    inFlight.add(p)
  }
  await Promise.all(inFlight)
  result.acknowledgedEventsPerSecond = acknowledged / ((performance.now() - t0) / 1000)
  await o.onLoadEnd?.()
  await Promise.all(pollers)
  return result
}

interface PollOptions {
  query: HttpClient
  queryKey: string
  pollIntervalMs: number
  timeoutMs: number
  onPoll?: () => void
}

/** ms from `ackAt` until GET /runs/{id} shows COMPLETED, or undefined after the timeout. */
async function msUntilCompleted(runId: string, ackAt: number, o: PollOptions): Promise<number | undefined> {
  const headers = { authorization: `Bearer ${o.queryKey}` }
  const deadline = ackAt + o.timeoutMs
  while (performance.now() < deadline) {
    const pollAt = performance.now()
    o.onPoll?.()
    const res = await o.query.get(`/runs/${runId}`, headers).catch(() => undefined)
    if (res?.status === 200 && (JSON.parse(res.text) as { status?: string }).status === 'COMPLETED') {
      return performance.now() - ackAt
    }
    await sleep(Math.max(0, pollAt + o.pollIntervalMs - performance.now()))
  }
  return undefined
}

/** Waits until one run is COMPLETED end to end: the processor has joined and the path works. */
export async function warmUpPipeline(
  o: Pick<FreshnessOptions, 'ingest' | 'query' | 'ingestKey' | 'queryKey'>,
  timeoutMs: number,
): Promise<number> {
  const run = generateRuns(50, 7, 'bench-warmup').find((r) => r.status === 'completed')!
  const body = toHttpBatch(run.events).json
  const res = await o.ingest.post('/ingest', { authorization: `Bearer ${o.ingestKey}`, 'content-type': 'application/json' }, body)
  if (res.status !== 200) throw new Error(`warm-up /ingest answered ${res.status}: ${res.text}`)
  const ms = await msUntilCompleted(run.run_id, performance.now(), { ...o, pollIntervalMs: 100, timeoutMs })
  if (ms === undefined) throw new Error(`the warm-up run did not show COMPLETED within ${timeoutMs} ms`)
  return ms
}

export function freshnessFigures(samples: ReadonlyArray<{ freshnessMs: number }>) {
  const ms = samples.map((s) => s.freshnessMs)
  return { count: ms.length, p50: percentile(ms, 0.5), p99: percentile(ms, 0.99), max: ms.length ? Math.max(...ms) : Number.NaN }
}
