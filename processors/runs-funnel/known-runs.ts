import type { KnownCompletion, KnownRunStart, KnownState, KnownStep } from './batch-plan.ts'

type MutableKnownState = { [K in keyof KnownState]: Array<KnownState[K][number]> }

interface RunState {
  runStart: KnownRunStart | null
  steps: Map<string, KnownStep>
  completion: KnownCompletion | null
}

export interface RunRef {
  project_id: string
  run_id: string
}

/**
 * What the store holds about the runs this process wrote or read lately, so a flush asks ClickHouse
 * only about runs it has not seen (a run's events usually span a few fetches). Bounded: the least
 * recently used runs go first. Only a partition's owner writes its runs (every event of a run has
 * the run's key, so one partition), so the cache stays true while the assignment holds; it is
 * cleared when partitions move, and the runs a failed write touched are forgotten.
 */
export function createKnownRuns(maxRuns: number) {
  const runs = new Map<string, RunState>()

  function touch(k: string, state: RunState): void {
    runs.delete(k)
    runs.set(k, state)
  }

  function stateOf(k: string): RunState {
    let state = runs.get(k)
    if (!state) {
      state = { runStart: null, steps: new Map(), completion: null }
      runs.set(k, state)
    }
    return state
  }

  function evict(): void {
    for (const k of runs.keys()) {
      if (runs.size <= maxRuns) break
      runs.delete(k)
    }
  }

  return {
    /** The known state of the cached runs among `refs`, and the runs the cache does not hold. */
    lookup(refs: readonly RunRef[]): { known: MutableKnownState; missing: RunRef[] } {
      const known = { runStarts: [] as KnownRunStart[], steps: [] as KnownStep[], completions: [] as KnownCompletion[] }
      const missing: RunRef[] = []
      for (const ref of refs) {
        const k = runKey(ref)
        const state = runs.get(k)
        if (!state) {
          missing.push(ref)
          continue
        }
        touch(k, state)
        if (state.runStart) known.runStarts.push(state.runStart)
        for (const s of state.steps.values()) known.steps.push(s)
        if (state.completion) known.completions.push(state.completion)
      }
      return { known, missing }
    },

    /** Records what the store holds for runs it was asked about: `refs` with nothing in `state` hold nothing. */
    fill(refs: readonly RunRef[], state: KnownState): void {
      for (const ref of refs) stateOf(runKey(ref))
      this.record(state)
    },

    /** Records rows now in the store (loaded, or written by a flush that succeeded). */
    record(state: KnownState): void {
      for (const r of state.runStarts) {
        const s = stateOf(runKey(r))
        s.runStart ??= r
      }
      for (const step of state.steps) {
        const s = stateOf(runKey(step))
        if (!s.steps.has(step.step_id)) s.steps.set(step.step_id, step)
      }
      for (const c of state.completions) {
        const s = stateOf(runKey(c))
        s.completion ??= c
      }
      evict()
    },

    forget(refs: readonly RunRef[]): void {
      for (const ref of refs) runs.delete(runKey(ref))
    },

    clear(): void {
      runs.clear()
    },

    get size(): number {
      return runs.size
    },
  }
}

export type KnownRuns = ReturnType<typeof createKnownRuns>

function runKey(ref: RunRef): string {
  return `${ref.project_id}\u0000${ref.run_id}`
}
