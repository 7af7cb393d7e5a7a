/**
 * Turning what users hand the SDK into what Sluice accepts, without ever throwing: times, error
 * texts, JSON of arbitrary values. The Python SDK's encode.py does the same, value for value.
 */

/** Sluice accepts text fields up to 64 KiB; this many characters (code points) always fit. */
export const MAX_TEXT_CHARS = 32_768

/** Epoch milliseconds → `2026-11-22T10:00:00.000Z`. */
export function isoTime(ms: number): string {
  return new Date(Math.floor(ms)).toISOString()
}

/** The first MAX_TEXT_CHARS code points of `text`. */
export function truncateText(text: string): string {
  // A string of at most N UTF-16 units has at most N code points: the common case costs nothing.
  if (text.length <= MAX_TEXT_CHARS) return text
  const points = Array.from(text)
  return points.length <= MAX_TEXT_CHARS ? text : points.slice(0, MAX_TEXT_CHARS).join('')
}

/** What a run or step records for a thrown value: its message, else its class name. */
export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const ctor = (err as { constructor?: { name?: unknown } }).constructor
    const className = typeof ctor?.name === 'string' && ctor.name ? ctor.name : err.name
    return truncateText(err.message || className || 'Error')
  }
  try {
    return truncateText(String(err))
  } catch {
    return 'Error'
  }
}

/** A plain object for `inputs`, `outputs`, `metadata`: objects as they are, anything else as `{ value }`. */
export function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : { value }
}

/**
 * JSON.stringify that does not throw: cycles become "[Circular]" and bigints strings. The slow
 * path runs only when plain JSON.stringify fails.
 */
export function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value)
  } catch {
    return JSON.stringify(sanitize(value, new Set()))
  }
}

function sanitize(value: unknown, ancestors: Set<object>): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (typeof value !== 'object' || value === null) return value
  if (ancestors.has(value)) return '[Circular]'
  const toJSON = (value as { toJSON?: unknown }).toJSON
  if (typeof toJSON === 'function') {
    try {
      return sanitize(toJSON.call(value), ancestors)
    } catch {
      return '[Unserializable]'
    }
  }
  ancestors.add(value)
  try {
    if (Array.isArray(value)) return value.map((v) => sanitize(v, ancestors))
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = sanitize(v, ancestors)
    return out
  } finally {
    ancestors.delete(value)
  }
}

/** Log attributes must be strings, finite numbers or booleans: null and undefined are left out, anything else becomes its JSON text. */
export function logAttributes(attributes: Record<string, unknown>): Record<string, string | number | boolean> {
  // Usually every value is fine as it is: then the object itself is what gets serialized.
  let fine = true
  for (const k in attributes) {
    if (!Object.hasOwn(attributes, k)) continue
    const v = attributes[k]
    if (!(typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)))) {
      fine = false
      break
    }
  }
  if (fine) return attributes as Record<string, string | number | boolean>
  const out: Record<string, string | number | boolean> = {}
  for (const [k, v] of Object.entries(attributes)) {
    if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) out[k] = v
    else if (v !== undefined && v !== null) out[k] = typeof v === 'number' ? String(v) : safeJson(v)
  }
  return out
}
