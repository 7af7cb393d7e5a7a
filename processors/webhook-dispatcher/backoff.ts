/**
 * Delay before the next webhook attempt: exponential backoff with full jitter (AWS Architecture
 * Blog, "Exponential Backoff And Jitter"): a uniform draw in [0, min(cap, base · 2^(attempt-1))),
 * so receivers that went down together are not hit again together. A `Retry-After` from the
 * receiver is a floor, itself bounded so one header cannot park a delivery for days.
 */
export interface BackoffOptions {
  baseMs: number
  capMs: number
  /** Upper bound on a receiver's Retry-After (default 1 h). */
  maxRetryAfterMs: number
  /** Uniform in [0, 1); injectable for tests. */
  random: () => number
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({
  baseMs: 1_000,
  capMs: 10 * 60_000,
  maxRetryAfterMs: 60 * 60_000,
  random: Math.random,
})

/** Milliseconds to wait after failed attempt number `attempt` (1-based). */
export function backoffDelayMs(attempt: number, options: Partial<BackoffOptions> = {}, retryAfterMs?: number): number {
  const o = { ...DEFAULT_BACKOFF, ...options }
  const exponent = Math.max(0, Math.floor(attempt) - 1)
  // 2 ** exponent is Infinity past 1023; Math.min takes care of it.
  const ceiling = Math.min(o.capMs, o.baseMs * 2 ** exponent)
  const jittered = Math.floor(o.random() * ceiling)
  const floor = retryAfterMs === undefined ? 0 : Math.min(Math.max(0, retryAfterMs), o.maxRetryAfterMs)
  return Math.max(jittered, floor)
}

/**
 * A `Retry-After` header in milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3).
 * Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value
  if (raw === undefined) return undefined
  const text = raw.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  // An HTTP date has a weekday and month name; Date.parse alone would also take '-5' or '2025'.
  if (!/[a-z]{3}/i.test(text)) return undefined
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs)
}
