/** When to retry a request, and how long to wait first. */

/** Network errors (status 0 here), 408, 429 and 5xx are worth another try; other statuses are final. */
export function isRetryable(status: number): boolean {
  return status === 0 || status === 408 || status === 429 || status >= 500
}

/** Full jitter: random in [0, min(maxMs, baseMs * 2^attempt)), attempt counting from 0. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 52))
  return Math.floor(random() * ceiling)
}

/**
 * `Retry-After` in milliseconds: delta-seconds (decimals accepted) or an HTTP date; null when
 * absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | null {
  if (value === null || value === undefined) return null
  const text = value.trim()
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000)
  // An HTTP date names its day or month; Date.parse alone would take "-1" for a year.
  const date = /[a-z]/i.test(text) ? Date.parse(text) : Number.NaN
  return Number.isNaN(date) ? null : Math.max(0, date - now)
}
