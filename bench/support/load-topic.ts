/**
 * The processor bench's input: runs of the fixture's ranking pipeline plus logs, across a few
 * projects, grouped the way /ingest requests would carry them, and loaded into a topic as the exact
 * messages /ingest would produce (keys, headers and Avro bytes from workload.ts's toKafkaMessages).
 */
import { randomUUID } from 'node:crypto'
import type { EventCodec } from '../../lib/avro/event-codec.ts'
import type { EventProducer } from '../../lib/kafka/event-producer.ts'
import { prng, type GeneratedRun } from '../../test/fixtures/pipeline-runs.ts'
import { EVENTS_PER_RUN, generateRuns, toKafkaMessages, type BenchEvent, type LogEvent } from './workload.ts'

/** Whole runs per simulated /ingest request, as freshness.ts sends them. */
const RUNS_PER_BATCH = 14
const PIPELINES = ['bench-ranking', 'bench-search']
const SERVICES = ['api', 'ranker', 'retriever', 'llm-gateway']
// Mostly info, with enough errors per service for a "level = error, group by service" rule to fire.
const LEVELS: ReadonlyArray<[string, number]> = [['debug', 0.03], ['info', 0.7], ['warn', 0.15], ['error', 0.12]]

export interface BenchBatch {
  projectId: string
  events: BenchEvent[]
}

export interface BenchWorkload {
  batches: BenchBatch[]
  /** Every run, with its project, for sampling what the query API must show afterwards. */
  runs: Array<{ projectId: string; run: GeneratedRun }>
  counts: { events: number; runEvents: number; logs: number; logsWithRun: number }
}

/**
 * About `events` events: batches of 14 runs (98 events) plus `logShare` of logs, each batch for one
 * project (round robin) and one pipeline; half the logs name a run of their batch.
 */
export function buildWorkload(o: { events: number; projectIds: readonly string[]; logShare: number; seed: number }): BenchWorkload {
  const rand = prng(o.seed)
  const runEvents = RUNS_PER_BATCH * EVENTS_PER_RUN
  const logsPerBatch = Math.round((runEvents * o.logShare) / (1 - o.logShare))
  const batchCount = Math.max(1, Math.round(o.events / (runEvents + logsPerBatch)))
  const batches: BenchBatch[] = []
  const runs: BenchWorkload['runs'] = []
  const counts = { events: 0, runEvents: 0, logs: 0, logsWithRun: 0 }
  for (let b = 0; b < batchCount; b++) {
    const projectId = o.projectIds[b % o.projectIds.length]!
    const batchRuns = generateRuns(RUNS_PER_BATCH, o.seed + b, PIPELINES[b % PIPELINES.length])
    const events: BenchEvent[] = batchRuns.flatMap((r) => r.events)
    for (let i = 0; i < logsPerBatch; i++) {
      const run = rand() < 0.5 ? batchRuns[Math.floor(rand() * batchRuns.length)] : undefined
      const log = logEvent(rand, run?.run_id)
      // Anywhere in the batch: runs keep their own order, logs fall between their events.
      events.splice(Math.floor(rand() * (events.length + 1)), 0, log)
      if (run) counts.logsWithRun++
    }
    for (const run of batchRuns) runs.push({ projectId, run })
    batches.push({ projectId, events })
    counts.events += events.length
    counts.runEvents += runEvents
    counts.logs += logsPerBatch
  }
  return { batches, runs, counts }
}

function logEvent(rand: () => number, runId: string | undefined): LogEvent {
  let r = rand()
  const level = LEVELS.find(([, share]) => (r -= share) < 0)?.[0] ?? 'info'
  const service = SERVICES[Math.floor(rand() * SERVICES.length)]!
  return {
    id: randomUUID(),
    type: 'log',
    timestamp: new Date().toISOString(),
    data: {
      level,
      message: level === 'error' ? `upstream call failed after ${Math.floor(rand() * 5000)} ms` : `handled request in ${Math.floor(rand() * 300)} ms`,
      service,
      attributes: { region: rand() < 0.5 ? 'eu-west-1' : 'us-east-1', attempt: 1 + Math.floor(rand() * 3), cached: rand() < 0.3 },
      ...(runId ? { run_id: runId } : {}),
    },
  }
}

/**
 * Encodes each batch as /ingest would (one request id per batch) and produces it through the
 * project's EventProducer, `concurrency` batches at a time. Resolves with the seconds it took.
 */
export async function loadTopic(o: {
  producer: EventProducer
  codec: EventCodec
  topic: string
  batches: readonly BenchBatch[]
  concurrency: number
  onProgress?: (events: number) => void
}): Promise<number> {
  const t0 = performance.now()
  let next = 0
  let sent = 0
  const worker = async () => {
    while (next < o.batches.length) {
      const batch = o.batches[next++]!
      await o.producer.send(o.topic, await toKafkaMessages(batch.events, o.codec, batch.projectId))
      sent += batch.events.length
      if (next % 200 === 0) o.onProgress?.(sent)
    }
  }
  await Promise.all(Array.from({ length: o.concurrency }, () => worker()))
  return (performance.now() - t0) / 1000
}
