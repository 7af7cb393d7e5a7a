import { expect } from 'vitest'
import type { expectedAnalysis, expectedPipelineFunnel } from '../fixtures/pipeline-runs.ts'

/** Checks a /pipelines/{name}/funnel answer against the independently computed expectation. */
export function expectFunnel(actual: any[], expected: ReturnType<typeof expectedPipelineFunnel>): void {
  expect(actual.map((s) => s.name)).toEqual(expected.map((s) => s.name))
  expected.forEach((e, i) => {
    const a = actual[i]
    expect(a).toMatchObject({
      name: e.name,
      runs: e.runs,
      input_count: e.input_count,
      output_count: e.output_count,
      dropped: e.dropped,
      rejection_reasons: e.rejection_reasons,
    })
    expect(a.drop_rate).toBeCloseTo(e.drop_rate, 12)
    expect(a.avg_cost).toBeCloseTo(e.avg_cost, 10)
    // Quantiles come from a 1 % log histogram: within 0.5 % of the exact nearest-rank value.
    expect(Math.abs(a.p50_duration_ms - e.p50_duration_ms)).toBeLessThanOrEqual(e.p50_duration_ms * 0.005 + 0.001)
    expect(Math.abs(a.p95_duration_ms - e.p95_duration_ms)).toBeLessThanOrEqual(e.p95_duration_ms * 0.005 + 0.001)
  })
}

/** Checks an /analyze/{run_id} answer against the independently computed expectation. */
export function expectAnalysis(actual: Record<string, any>, expected: ReturnType<typeof expectedAnalysis>): void {
  expect(actual.run).toMatchObject(expected.run)
  expect(actual.run.total_cost).toBeCloseTo(expected.totalCost, 10)
  expect(actual.funnel).toHaveLength(expected.funnel.length)
  expected.funnel.forEach((step, i) => {
    const { cost, drop_rate, ...exact } = step
    expect(actual.funnel[i]).toMatchObject(exact)
    expect(actual.funnel[i].cost).toBeCloseTo(cost, 10)
    expect(actual.funnel[i].drop_rate).toBeCloseTo(drop_rate, 12)
  })
  const { overall_drop_rate, ...summary } = expected.summary
  expect(actual.summary).toMatchObject(summary)
  expect(actual.summary.overall_drop_rate).toBeCloseTo(overall_drop_rate, 12)
  expect(actual.summary.total_cost).toBeCloseTo(expected.totalCost, 10)
  expect(actual.final_outputs).toEqual(expected.final_outputs)
}
