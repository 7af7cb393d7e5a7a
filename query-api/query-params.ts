import { z } from 'zod'
import { ValidationError } from '../lib/errors.ts'
import { guardJson, MAX_JSON_DEPTH } from '../lib/json-guard.ts'
import { inTimeRange, MAX_TIME, MIN_TIME, TIME_RANGE_MESSAGE } from '../lib/time-range.ts'

// A date (read as UTC) or a date-time with a zone. A date-time without one would be read in the
// server's local time zone, so the same URL would mean different instants on different hosts.
const ISO_DATE_OR_ZONED_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/i

/** A time in a query string: ISO-8601 with a zone, or epoch milliseconds. */
export const timeParam = z
  .string()
  .transform((s, ctx) => {
    const ms = /^\d{1,15}$/.test(s) ? Number(s) : ISO_DATE_OR_ZONED_TIME.test(s) ? Date.parse(s) : Number.NaN
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: 'custom', message: 'must be an ISO-8601 time or epoch milliseconds' })
      return z.NEVER
    }
    // The range events may have: a bound in year 0 once reached ClickHouse and was a 500.
    if (!inTimeRange(ms)) {
      ctx.addIssue({ code: 'custom', message: TIME_RANGE_MESSAGE })
      return z.NEVER
    }
    return ms
  })

/** A time inside a cursor, held to the same range. */
export const cursorTime = z.number().int().min(MIN_TIME).max(MAX_TIME)
/** Ids inside cursors are UUIDs (every list's ids are). */
export const cursorId = z.guid()
/** `created_at` of a Postgres row inside a cursor: the ISO string Sluice wrote. */
export const cursorIsoTime = z.iso.datetime({ offset: true }).refine((s) => inTimeRange(Date.parse(s)))

export const limitParam = z.coerce.number().int().min(1).max(1000).default(100)

/** Parses a query string with zod; a bad parameter is a 400 naming it. */
export function parseQuery<T extends z.ZodType>(schema: T, query: unknown): z.infer<T> {
  return parseWith(schema, query, 'query')
}

/**
 * Parses a JSON body with zod; a bad field is a 400 naming it (unknown fields included). Text that
 * Postgres cannot hold (NUL, lone surrogates) and values nested too deep are refused first, so
 * they never reach a store or a recursive serializer as a 500.
 */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const problem = guardJson(body, { repair: false })
  if (problem?.kind === 'too_deep') throw new ValidationError(`${problem.path.slice(0, 200)}: nests deeper than ${MAX_JSON_DEPTH} levels`)
  if (problem) throw new ValidationError(`${problem.path.slice(0, 200)}: must not contain NUL characters or unpaired surrogates`)
  return parseWith(schema, body, 'body')
}

function parseWith<T extends z.ZodType>(schema: T, input: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(input)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : ''
    throw new ValidationError(`${issue.path.join('.') || what}: ${issue.message}${keys}`)
  }
  return parsed.data
}

/** The `Link: <...>; rel="next"` header value for the same path and query with a new cursor. */
export function nextLink(url: string, cursor: string): string {
  const u = new URL(url, 'http://sluice.invalid')
  u.searchParams.set('cursor', cursor)
  return `<${u.pathname}${u.search}>; rel="next"`
}

export function iso(ms: number | string | null): string | null {
  return ms === null ? null : new Date(Number(ms)).toISOString()
}

export function parseJson(s: string | null): unknown {
  return s === null ? null : JSON.parse(s)
}
