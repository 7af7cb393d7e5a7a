import { describe, expect, it } from 'vitest'
import { backoffMs, isRetryable, parseRetryAfter } from './retry.ts'

describe('isRetryable', () => {
  it('retries network errors, 408, 429 and 5xx only', () => {
    const statuses = [0, 200, 207, 400, 401, 403, 404, 408, 413, 415, 429, 500, 502, 503, 504]
    expect(statuses.filter(isRetryable)).toEqual([0, 408, 429, 500, 502, 503, 504])
  })
})

describe('backoffMs', () => {
  it('is full jitter under an exponential ceiling capped at maxMs', () => {
    expect([0, 1, 2, 3, 10].map((a) => backoffMs(a, 500, 30_000, () => 0.999999))).toEqual([499, 999, 1999, 3999, 29_999])
    expect(backoffMs(4, 500, 30_000, () => 0)).toBe(0)
    expect(backoffMs(5000, 500, 30_000, () => 0.5)).toBe(15_000)
  })
})

describe('parseRetryAfter', () => {
  it('reads delta-seconds, decimals and HTTP dates', () => {
    const now = Date.parse('2026-11-22T10:00:00Z')
    expect(parseRetryAfter('5', now)).toBe(5000)
    expect(parseRetryAfter(' 0.25 ', now)).toBe(250)
    expect(parseRetryAfter('Sun, 22 Nov 2026 10:00:07 GMT', now)).toBe(7000)
    expect(parseRetryAfter('Sun, 22 Nov 2026 09:00:00 GMT', now)).toBe(0)
  })

  it('is null when absent or unreadable', () => {
    expect([null, undefined, '', 'soon', '-1'].map((v) => parseRetryAfter(v))).toEqual([null, null, null, null, null])
  })
})
