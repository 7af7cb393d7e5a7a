import { runStartedAt, type EventEnvelope, type RunCompletePayload, type RunStartPayload, type StepCompletePayload } from '../../lib/event-types.ts'
import { stepContribution as contribution, type FunnelContribution, type StepFacts } from '../../lib/funnel-math.ts'
import { isResend as isDuplicate, processedBefore as before, type KafkaPosition, type PositionedEvent } from '../positioned-events.ts'

export type { KafkaPosition, PositionedEvent }

export interface KnownRunStart extends KafkaPosition {
  project_id: string
  run_id: string
  name: string
  started_at: number
}

export interface KnownStep extends StepFacts, KafkaPosition {
  run_id: string
  step_id: string
}

export interface KnownCompletion extends KafkaPosition {
  project_id: string
  run_id: string
}

/** What the store already holds for the runs a batch touches. */
export interface KnownState {
  runStarts: readonly KnownRunStart[]
  steps: readonly KnownStep[]
  completions: readonly KnownCompletion[]
}

type Positioned<P> = KafkaPosition & { event: EventEnvelope & { payload: P } }

/** A step's funnel contribution with the step it comes from (the key of its `funnel_steps` row). */
export interface CountedStep extends FunnelContribution {
  run_id: string
  step_id: string
}

/**
 * A row of `open_runs` (migrations/clickhouse/0008_open_runs.sql): a run that has started and not
 * completed (closed = 0), or the closing row of that key once it has both (closed = 1).
 */
export interface OpenRunRow {
  project_id: string
  run_id: string
  started_at: number
  closed: 0 | 1
  /** The run_start's event, for the name, tags and arrival of an open row. */
  start: Positioned<RunStartPayload> | null
}

export interface BatchPlan {
  runStarts: Positioned<RunStartPayload>[]
  steps: Positioned<StepCompletePayload>[]
  completions: Positioned<RunCompletePayload>[]
  contributions: CountedStep[]
  openRuns: OpenRunRow[]
  duplicates: number
  ignored: number
  /** What the store holds once this plan is written, as the planner knows it (for a cache of known state). */
  known: { runStarts: KnownRunStart[]; steps: KnownStep[]; completions: KnownCompletion[] }
}

/**
 * Decides, for one partition's batch, which events are first occurrences (to store) and which
 * steps now count toward their pipeline's funnel.
 *
 * TRICKY: exactly-once rests on two rules. (1) An event is a duplicate when the store, or this
 * batch, already has its run/step/completion from an earlier Kafka position; a row at the same
 * position is this very event written by a batch that crashed before its marker, so it is stored
 * and counted again. (2) A step counts toward its pipeline when the later of its own event and its
 * run's `run_start` is processed, because the pipeline name and hour come from the run_start.
 */
export function planBatch(events: readonly PositionedEvent[], known: KnownState): BatchPlan {
  const runStarts = new Map<string, KnownRunStart>()
  const stepsByRun = new Map<string, KnownStep[]>()
  const stepIds = new Map<string, KafkaPosition>()
  const completions = new Map<string, KafkaPosition>()
  for (const r of known.runStarts) runStarts.set(key(r.project_id, r.run_id), r)
  for (const s of known.steps) {
    // TRICKY: a replayed batch writes its rows again, and ClickHouse returns every copy until it
    // merges them. A step must be in stepsByRun once, or its run_start counts it once per copy.
    const sk = key(s.project_id, s.step_id)
    if (stepIds.has(sk)) continue
    pushTo(stepsByRun, key(s.project_id, s.run_id), s)
    stepIds.set(sk, s)
  }
  for (const c of known.completions) completions.set(key(c.project_id, c.run_id), c)

  const plan: BatchPlan = {
    runStarts: [],
    steps: [],
    completions: [],
    contributions: [],
    openRuns: [],
    duplicates: 0,
    ignored: 0,
    known: { runStarts: [], steps: [], completions: [] },
  }
  const sorted = [...events].sort((a, b) => a.partition - b.partition || a.offset - b.offset)

  for (const pe of sorted) {
    const e = pe.event
    switch (e.type) {
      case 'run_start': {
        const k = key(e.project_id, e.payload.run_id)
        if (isDuplicate(runStarts.get(k), pe)) {
          plan.duplicates++
          break
        }
        const rs: KnownRunStart = {
          project_id: e.project_id,
          run_id: e.payload.run_id,
          name: e.payload.name,
          started_at: runStartedAt(e),
          partition: pe.partition,
          offset: pe.offset,
        }
        runStarts.set(k, rs)
        plan.runStarts.push(pe as Positioned<RunStartPayload>)
        plan.known.runStarts.push(rs)
        for (const step of stepsByRun.get(k) ?? []) {
          if (before(step, rs)) plan.contributions.push(counted(step, rs))
        }
        break
      }
      case 'step_complete': {
        const p = e.payload
        const sk = key(e.project_id, p.step_id)
        const stored = stepIds.get(sk)
        if (isDuplicate(stored, pe)) {
          plan.duplicates++
          break
        }
        const step: KnownStep = {
          project_id: e.project_id,
          run_id: p.run_id,
          step_id: p.step_id,
          name: p.name,
          started_at: p.started_at,
          completed_at: p.completed_at,
          event_time: e.timestamp,
          input_count: p.input_count,
          output_count: p.output_count,
          rejection_reasons: p.rejection_reasons,
          cost: p.cost,
          partition: pe.partition,
          offset: pe.offset,
        }
        stepIds.set(sk, step)
        // A replay (the store already has this very event) is in stepsByRun already.
        if (!stored) pushTo(stepsByRun, key(e.project_id, p.run_id), step)
        plan.steps.push(pe as Positioned<StepCompletePayload>)
        plan.known.steps.push(step)
        const rs = runStarts.get(key(e.project_id, p.run_id))
        if (rs && before(rs, step)) plan.contributions.push(counted(step, rs))
        break
      }
      case 'run_complete': {
        const k = key(e.project_id, e.payload.run_id)
        if (isDuplicate(completions.get(k), pe)) {
          plan.duplicates++
          break
        }
        completions.set(k, pe)
        plan.completions.push(pe as Positioned<RunCompletePayload>)
        plan.known.completions.push({ project_id: e.project_id, run_id: e.payload.run_id, partition: pe.partition, offset: pe.offset })
        break
      }
      default:
        plan.ignored++
    }
  }
  plan.openRuns = openRunRows(plan, known, runStarts, completions)
  return plan
}

/**
 * The `open_runs` rows of a batch. A run whose start this batch stores opens, unless its completion
 * is stored too by the end of the batch; a run with both gets a closing row only if an open row may
 * exist already: its start was stored before this batch (this batch's own start row then being a
 * replay, or absent). A run that starts and completes within the batch, its start new to the store,
 * needs no row at all (most runs, under load).
 */
function openRunRows(plan: BatchPlan, known: KnownState, runStarts: ReadonlyMap<string, KnownRunStart>, completions: ReadonlyMap<string, unknown>): OpenRunRow[] {
  const startedBefore = new Set(known.runStarts.map((r) => key(r.project_id, r.run_id)))
  const startsHere = new Map(plan.runStarts.map((pe) => [key(pe.event.project_id, pe.event.payload.run_id), pe]))
  const touched = new Set([...startsHere.keys(), ...plan.completions.map((pe) => key(pe.event.project_id, pe.event.payload.run_id))])
  const rows: OpenRunRow[] = []
  for (const k of touched) {
    const rs = runStarts.get(k)
    if (!rs) continue
    const row = { project_id: rs.project_id, run_id: rs.run_id, started_at: rs.started_at }
    if (!completions.has(k)) rows.push({ ...row, closed: 0, start: startsHere.get(k) ?? null })
    else if (startedBefore.has(k)) rows.push({ ...row, closed: 1, start: null })
  }
  return rows
}

function counted(step: KnownStep, rs: KnownRunStart): CountedStep {
  return { ...contribution(step, rs), run_id: step.run_id, step_id: step.step_id }
}

function key(projectId: string, id: string): string {
  return `${projectId}\u0000${id}`
}

function pushTo<K, V>(map: Map<K, V[]>, k: K, v: V): void {
  const list = map.get(k)
  if (list) list.push(v)
  else map.set(k, [v])
}
