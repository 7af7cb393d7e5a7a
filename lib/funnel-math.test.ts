import { describe, expect, it } from 'vitest'
import {
  addContribution,
  bucketValue,
  dropOf,
  durationBucket,
  emptyAccumulator,
  histogramQuantile,
  mergeAccumulators,
  pipelineFunnel,
  type FunnelContribution,
} from './funnel-math.ts'

describe('dropOf', () => {
  it('follows the contract', () => {
    expect(dropOf({ input_count: 10, output_count: 4 })).toEqual({ dropped: 6, drop_rate: 0.6 })
    expect(dropOf({ input_count: 4, output_count: 10 })).toEqual({ dropped: 0, drop_rate: 0 })
    expect(dropOf({ input_count: 0, output_count: 0 })).toEqual({ dropped: 0, drop_rate: 0 })
    expect(dropOf({ input_count: null, output_count: 3 })).toEqual({ dropped: null, drop_rate: null })
  })
})

describe('duration histogram', () => {
  it('reads quantiles back within 0.5 %', () => {
    for (const ms of [1, 7, 250, 999, 12_345, 3_600_000]) {
      const v = bucketValue(durationBucket(ms))
      expect(Math.abs(v - ms) / ms).toBeLessThan(0.005)
    }
    expect(durationBucket(0)).toBe(0)
    expect(bucketValue(0)).toBe(0)
  })

  it('gives nearest-rank quantiles', () => {
    const h = new Map<number, number>()
    for (let ms = 1; ms <= 100; ms++) h.set(durationBucket(ms * 10), (h.get(durationBucket(ms * 10)) ?? 0) + 1)
    expect(histogramQuantile(h, 0.5)).toBeCloseTo(500, -1)
    expect(histogramQuantile(h, 0.95)).toBeCloseTo(950, -1)
    expect(histogramQuantile(new Map(), 0.5)).toBeNull()
  })
})

describe('pipelineFunnel', () => {
  const c = (step: string, position: number, i: number | null, o: number | null, cost: number | null): FunnelContribution => ({
    project_id: 'p',
    pipeline: 'recs',
    step_name: step,
    run_started_at: 0,
    input_count: i,
    output_count: o,
    rejection_reasons: i !== null && o !== null ? { dup: i - o, zero: 0 } : null,
    duration_ms: 100,
    cost,
    position_ms: position,
  })

  it('sums over runs, orders by usual position, and merges partial sums the same as one pass', () => {
    const all = [c('rank', 500, 10, 2, 0.2), c('fetch', 0, 100, 10, null), c('rank', 400, 20, 5, 0.4), c('fetch', 10, 50, 20, null)]
    const one = new Map([['rank', emptyAccumulator()], ['fetch', emptyAccumulator()]])
    for (const x of all) addContribution(one.get(x.step_name)!, x)

    const a = new Map([['rank', emptyAccumulator()], ['fetch', emptyAccumulator()]])
    const b = new Map([['rank', emptyAccumulator()], ['fetch', emptyAccumulator()]])
    all.forEach((x, i) => addContribution((i % 2 ? a : b).get(x.step_name)!, x))
    for (const [k, v] of b) mergeAccumulators(a.get(k)!, v)

    const expected = [
      { name: 'fetch', runs: 2, input_count: 150, output_count: 30, dropped: 120, drop_rate: 0.8, rejection_reasons: { dup: 120 }, avg_cost: null },
      { name: 'rank', runs: 2, input_count: 30, output_count: 7, dropped: 23, drop_rate: 23 / 30, rejection_reasons: { dup: 23 } },
    ]
    expect(pipelineFunnel(one)).toMatchObject(expected)
    expect(pipelineFunnel(a)).toEqual(pipelineFunnel(one))
    expect(pipelineFunnel(one)[1]!.avg_cost).toBeCloseTo(0.3)
  })

  it('reports null counts for a step never counted', () => {
    const m = new Map([['llm', emptyAccumulator()]])
    addContribution(m.get('llm')!, c('llm', 0, null, null, 1))
    expect(pipelineFunnel(m)[0]).toMatchObject({ runs: 1, input_count: null, output_count: null, dropped: null, drop_rate: null, avg_cost: 1 })
  })
})

describe('pipeline quantiles stay within the observed durations', () => {
  const step = (duration_ms: number): FunnelContribution => ({
    project_id: 'p', pipeline: 'recs', step_name: 'rank', run_started_at: 0, input_count: null, output_count: null,
    rejection_reasons: null, duration_ms, cost: null, position_ms: 0,
  })

  it('answers 100 for steps that all took 100 ms (the bucket middle alone would say 99.686)', () => {
    const acc = emptyAccumulator()
    for (let i = 0; i < 10; i++) addContribution(acc, step(100))
    const [entry] = pipelineFunnel(new Map([['rank', acc]]))
    expect(histogramQuantile(acc.duration_histogram, 0.5)).toBeLessThan(100)
    expect(entry).toMatchObject({ p50_duration_ms: 100, p95_duration_ms: 100 })
  })

  it('keeps the bounds across merged accumulators (rollup hours and raw edge hours)', () => {
    const a = emptyAccumulator()
    const b = emptyAccumulator()
    addContribution(a, step(250))
    addContribution(b, step(251))
    mergeAccumulators(a, b)
    expect([a.duration_min, a.duration_max]).toEqual([250, 251])
    const [entry] = pipelineFunnel(new Map([['rank', a]]))
    for (const q of [entry!.p50_duration_ms!, entry!.p95_duration_ms!]) {
      expect(q).toBeGreaterThanOrEqual(250)
      expect(q).toBeLessThanOrEqual(251)
    }
  })

  it('leaves the histogram answer alone when the bounds are unknown (rows from before they were kept)', () => {
    const old = emptyAccumulator()
    old.duration_histogram.set(durationBucket(100), 3)
    const [entry] = pipelineFunnel(new Map([['rank', { ...old, runs: 3 }]]))
    expect(entry!.p50_duration_ms).toBe(histogramQuantile(old.duration_histogram, 0.5))
  })
})
