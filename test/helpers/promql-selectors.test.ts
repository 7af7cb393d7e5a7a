import { describe, expect, it } from 'vitest'
import { promqlSelectors } from './promql-selectors.ts'

describe('promqlSelectors', () => {
  it('finds selectors with their matcher labels, and grouping labels, not functions or keywords', () => {
    const expr =
      '(sum by (route) (rate(http_request_duration_seconds_count{job=~"a|b", status_code=~"5.."}[5m])) or vector(0)) / on (route) group_left sum without (instance) (rate(x_total[1m] offset 5m)) > bool 0.05 and up == 0'
    expect(promqlSelectors(expr)).toEqual({
      selectors: [
        { name: 'http_request_duration_seconds_count', labels: ['job', 'status_code'] },
        { name: 'x_total', labels: [] },
        { name: 'up', labels: [] },
      ],
      grouping: ['route', 'instance'],
    })
  })

  it('reads a histogram_quantile with le in its grouping and ignores label values that look like names', () => {
    expect(promqlSelectors('histogram_quantile(0.95, sum by (le, table) (rate(a_bucket{table="runs{x}"}[$__rate_interval])))')).toEqual({
      selectors: [{ name: 'a_bucket', labels: ['table'] }],
      grouping: ['le', 'table'],
    })
  })
})
