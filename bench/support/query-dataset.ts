/**
 * The query bench's data, as a pure function of (project, run index): the fill process writes it
 * and the bench process picks its parameters (a recent run, an old run, a cursor deep in the list)
 * from the same numbers without reading them back. Runs are evenly spread over the span, so run i
 * starts after run i - 1.
 */
import { createHash } from 'node:crypto'
import type { EventEnvelope, LogLevel } from '../../lib/event-types.ts'

export interface DatasetProject {
  id: string
  runs: number
  stepsPerRun: number
  /** Start times cover [startMs, endMs). */
  startMs: number
  endMs: number
}

export const PIPELINES = [
  { name: 'recs', share: 0.5 },
  { name: 'search', share: 0.3 },
  { name: 'ranking', share: 0.15 },
  { name: 'fraud', share: 0.049 },
  { name: 'backfill', share: 0.001 },
] as const
export const CUSTOMERS = 1000
/** Runs that started less than this long before the end are still running, one in two. */
export const RECENT_RUNNING_MS = 10 * 60_000
const STEP_NAMES = ['retrieve', 'dedupe', 'filter', 'score', 'rank', 'rerank', 'llm', 'guard', 'diversify', 'format'] as const
const LOG_MESSAGES = ['payment timeout for order', 'cache miss for key', 'slow card check for order', 'retrying upstream call', 'served recommendations for user'] as const
const LOG_LEVELS_BY_SHARE: Array<[LogLevel, number]> = [['info', 0.8], ['warn', 0.12], ['error', 0.07], ['fatal', 0.01]]

export interface RunFacts {
  runId: string
  name: string
  startedAt: number
  tags: Record<string, string>
  status: 'running' | 'completed' | 'failed'
}

function digest(projectId: string, i: number, what: string): Buffer {
  return createHash('sha1').update(`${projectId}|${i}|${what}`).digest()
}

function uuidOf(bytes: Buffer): string {
  const h = bytes.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`
}

/** A small deterministic generator (mulberry32) seeded from a digest. */
function prngOf(bytes: Buffer): () => number {
  let a = bytes.readUInt32BE(0)
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

function pick<T>(choices: ReadonlyArray<readonly [T, number]>, r: number): T {
  let acc = 0
  for (const [value, share] of choices) {
    acc += share
    if (r < acc) return value
  }
  return choices[choices.length - 1]![0]
}

export function runFacts(p: DatasetProject, i: number): RunFacts {
  const d = digest(p.id, i, 'run')
  const rand = prngOf(d.subarray(16))
  const startedAt = p.startMs + Math.floor(((i + 0.5) * (p.endMs - p.startMs)) / p.runs)
  const name = pick(PIPELINES.map((x) => [x.name, x.share] as const), rand())
  const tags = {
    env: rand() < 0.9 ? 'prod' : 'staging',
    region: pick([['eu', 0.5], ['us', 0.35], ['ap', 0.15]] as const, rand()),
    customer: `c-${Math.floor(rand() * CUSTOMERS)}`,
  }
  const r = rand()
  const status = p.endMs - startedAt < RECENT_RUNNING_MS && r < 0.5 ? 'running' : r < 0.01 ? 'running' : r < 0.08 ? 'failed' : 'completed'
  return { runId: uuidOf(d), name, startedAt, tags, status }
}

/** Run i's events in the order an SDK sends them (start, steps, completion), and one log. */
export function runEvents(p: DatasetProject, i: number): { run: EventEnvelope[]; log: EventEnvelope } {
  const f = runFacts(p, i)
  const rand = prngOf(digest(p.id, i, 'steps'))
  const envelope = (n: number, at: number) => ({ id: uuidOf(digest(p.id, i, `event-${n}`)), project_id: p.id, timestamp: at, received_at: at + 20, request_id: null })
  const run: EventEnvelope[] = [{ ...envelope(0, f.startedAt), type: 'run_start', payload: { run_id: f.runId, name: f.name, tags: f.tags, started_at: f.startedAt } }]
  let t = f.startedAt
  let candidates = 100 + Math.floor(rand() * 900)
  for (let s = 0; s < p.stepsPerRun; s++) {
    const duration = 5 + Math.floor(rand() * 400)
    const output = Math.floor(candidates * (0.6 + rand() * 0.4))
    const dropped = candidates - output
    const name = STEP_NAMES[s % STEP_NAMES.length]!
    const llm = name === 'llm' || name === 'rerank'
    run.push({
      ...envelope(s + 1, t + duration),
      type: 'step_complete',
      payload: {
        step_id: uuidOf(digest(p.id, i, `step-${s}`)),
        run_id: f.runId,
        name,
        type: llm ? 'llm' : 'filter',
        inputs: `{"limit":${candidates}}`,
        outputs: s === p.stepsPerRun - 1 ? `{"top":["sku-${output}","sku-${output + 1}"]}` : null,
        metadata: null,
        reasoning: null,
        cost: llm ? Math.round(rand() * 10_000) / 1_000_000 : null,
        started_at: t,
        completed_at: t + duration,
        error: null,
        input_count: candidates,
        output_count: output,
        rejection_reasons: dropped > 0 ? { low_score: dropped - Math.floor(dropped / 3), duplicate: Math.floor(dropped / 3) } : {},
      },
    })
    t += duration + 1
    candidates = output
  }
  if (f.status !== 'running') {
    run.push({
      ...envelope(p.stepsPerRun + 1, t + 5),
      type: 'run_complete',
      payload: { run_id: f.runId, status: f.status, completed_at: t + 5, error: f.status === 'failed' ? 'upstream timeout' : null, total_cost: null },
    })
  }
  const level = pick(LOG_LEVELS_BY_SHARE, rand())
  const log: EventEnvelope = {
    ...envelope(p.stepsPerRun + 2, f.startedAt + 3),
    type: 'log',
    payload: {
      level,
      message: `${LOG_MESSAGES[Math.floor(rand() * LOG_MESSAGES.length)]} ${i}`,
      service: `svc-${Math.floor(rand() * 5)}`,
      attributes: { region: f.tags.region ?? 'eu' },
      run_id: f.runId,
    },
  }
  return { run, log }
}

/** The run index whose start is the last one before `ms` (clamped to the project's runs). */
export function runIndexAt(p: DatasetProject, ms: number): number {
  const i = Math.floor(((ms - p.startMs) * p.runs) / (p.endMs - p.startMs))
  return Math.min(p.runs - 1, Math.max(0, i))
}
