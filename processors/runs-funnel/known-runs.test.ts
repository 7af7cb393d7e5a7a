import { describe, expect, it } from 'vitest'
import { createKnownRuns } from './known-runs.ts'

const step = (run: string, id: string) => ({
  project_id: 'p', run_id: run, step_id: id, name: 's', started_at: null, completed_at: null, event_time: 0,
  input_count: null, output_count: null, rejection_reasons: null, cost: null, partition: 0, offset: 1,
})

describe('known runs cache', () => {
  it('answers for runs it was told about, empty ones included, and names the rest', () => {
    const cache = createKnownRuns(10)
    cache.fill([{ project_id: 'p', run_id: 'a' }, { project_id: 'p', run_id: 'b' }], {
      runStarts: [{ project_id: 'p', run_id: 'a', name: 'recs', started_at: 5, partition: 0, offset: 0 }],
      steps: [step('a', 's1'), step('a', 's1')],
      completions: [],
    })
    const { known, missing } = cache.lookup([{ project_id: 'p', run_id: 'a' }, { project_id: 'p', run_id: 'b' }, { project_id: 'p', run_id: 'c' }])
    expect(missing).toEqual([{ project_id: 'p', run_id: 'c' }])
    expect(known.runStarts.map((r) => r.run_id)).toEqual(['a'])
    // A row ClickHouse returned twice (not merged yet) is one step.
    expect(known.steps.map((s) => s.step_id)).toEqual(['s1'])
  })

  it('evicts the least recently used runs past its bound, and forgets on demand', () => {
    const cache = createKnownRuns(2)
    cache.fill([{ project_id: 'p', run_id: 'a' }, { project_id: 'p', run_id: 'b' }], { runStarts: [], steps: [], completions: [] })
    cache.lookup([{ project_id: 'p', run_id: 'a' }])
    cache.fill([{ project_id: 'p', run_id: 'c' }], { runStarts: [], steps: [], completions: [] })
    expect(cache.lookup([{ project_id: 'p', run_id: 'b' }]).missing).toHaveLength(1)
    expect(cache.lookup([{ project_id: 'p', run_id: 'a' }]).missing).toHaveLength(0)
    cache.forget([{ project_id: 'p', run_id: 'a' }])
    expect(cache.lookup([{ project_id: 'p', run_id: 'a' }]).missing).toHaveLength(1)
    expect(cache.size).toBeLessThanOrEqual(2)
  })
})
