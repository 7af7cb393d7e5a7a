import { describe, expect, it } from 'vitest'
import { backoffDelayMs, parseRetryAfter } from './backoff.ts'

const opts = { baseMs: 1_000, capMs: 600_000 }

describe('backoffDelayMs', () => {
  it('draws from [0, base·2^(attempt-1)) with full jitter', () => {
    expect(backoffDelayMs(1, { ...opts, random: () => 0 })).toBe(0)
    expect(backoffDelayMs(1, { ...opts, random: () => 0.999999 })).toBe(999)
    expect(backoffDelayMs(2, { ...opts, random: () => 0.999999 })).toBe(1_999)
    expect(backoffDelayMs(4, { ...opts, random: () => 0.5 })).toBe(4_000)
  })

  it('stays within its bounds for every attempt, capped', () => {
    for (let attempt = 1; attempt <= 40; attempt++) {
      const ceiling = Math.min(600_000, 1_000 * 2 ** (attempt - 1))
      for (let i = 0; i < 200; i++) {
        const d = backoffDelayMs(attempt, opts)
        expect(d).toBeGreaterThanOrEqual(0)
        expect(d).toBeLessThan(ceiling)
      }
    }
    expect(backoffDelayMs(5_000, { ...opts, random: () => 0.999999 })).toBe(599_999)
  })

  it('treats Retry-After as a floor, bounded by maxRetryAfterMs', () => {
    expect(backoffDelayMs(1, { ...opts, random: () => 0 }, 30_000)).toBe(30_000)
    expect(backoffDelayMs(10, { ...opts, random: () => 0.5 }, 1_000)).toBe(256_000)
    expect(backoffDelayMs(1, { ...opts, random: () => 0, maxRetryAfterMs: 60_000 }, 86_400_000)).toBe(60_000)
    expect(backoffDelayMs(1, { ...opts, random: () => 0 }, 0)).toBe(0)
  })
})

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-06-01T12:00:00Z')
  it('reads delta-seconds and HTTP dates', () => {
    expect(parseRetryAfter('0', now)).toBe(0)
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000)
    expect(parseRetryAfter('Sun, 01 Jun 2025 12:00:30 GMT', now)).toBe(30_000)
    expect(parseRetryAfter('Sun, 01 Jun 2025 11:00:00 GMT', now)).toBe(0)
  })
  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined()
    expect(parseRetryAfter('soon', now)).toBeUndefined()
    expect(parseRetryAfter('-5', now)).toBeUndefined()
  })
})
