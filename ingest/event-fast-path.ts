import type { EventEnvelope, LogLevel } from '../lib/event-types.ts'
import { MAX_TIME, MIN_TIME } from '../lib/time-range.ts'
import { GUID_PATTERN, ISO_TIME_PATTERN, LEVEL_ALIASES, LIMITS, type EventContext } from './event-schema.ts'

/**
 * The common case of `normalizeEvent` without zod: straight-line checks of the same rules, for
 * an event that passes them all. It never explains a failure: anything it is not sure of
 * (a wrong type, a value out of bounds, a shape it does not know) returns `undefined`, and the
 * zod schemas in event-schema.ts decide and word the error. So zod stays the contract, and this
 * file may only ever accept less than zod, never more; event-fast-path.property.test.ts holds
 * the two to the same answer on generated events.
 */
export function fastNormalize(raw: unknown, ctx: EventContext): EventEnvelope | undefined {
  if (!isPlainObject(raw)) return undefined
  const id = raw.id
  if (id !== undefined && !isGuid(id)) return undefined
  const type = raw.type
  const data = raw.data
  if (!isPlainObject(data)) return undefined
  let timestamp: number | undefined
  if (raw.timestamp !== undefined) {
    timestamp = time(raw.timestamp)
    if (timestamp === undefined) return undefined
  }
  let payload: EventEnvelope['payload'] | undefined
  let logTime: number | null = null
  switch (type) {
    case 'run_start':
      payload = runStart(data)
      break
    case 'step_complete':
      payload = stepComplete(data)
      break
    case 'run_complete':
      payload = runComplete(data)
      break
    case 'log': {
      const t = nullableTime(data.timestamp)
      if (t === undefined) return undefined
      logTime = t
      payload = log(data)
      break
    }
    default:
      return undefined
  }
  if (payload === undefined) return undefined
  return {
    id: id ?? ctx.newId(),
    project_id: ctx.projectId,
    type,
    timestamp: timestamp ?? logTime ?? ctx.receivedAt,
    received_at: ctx.receivedAt,
    request_id: ctx.requestId,
    payload,
  } as EventEnvelope
}

/** Marks a field that failed: `undefined` is taken by "absent", so a unique value says "bail out". */
const BAD = Symbol('bad')
type Bad = typeof BAD

function runStart(d: Record<string, unknown>): EventEnvelope['payload'] | undefined {
  if (!isGuid(d.run_id) || !isName(d.name)) return undefined
  const tags = d.tags === undefined ? {} : limitedRecord(d.tags, isTagValue)
  const startedAt = nullableTime(d.started_at)
  if (tags === undefined || startedAt === undefined) return undefined
  return { run_id: d.run_id, name: d.name, tags: tags as Record<string, string>, started_at: startedAt }
}

function stepComplete(d: Record<string, unknown>): EventEnvelope['payload'] | undefined {
  if (!isGuid(d.step_id) || !isGuid(d.run_id) || !isName(d.name) || !isName(d.type)) return undefined
  const inputs = nullableJson(d.inputs)
  const outputs = nullableJson(d.outputs)
  const metadata = nullableJson(d.metadata)
  const reasoning = nullableText(d.reasoning)
  const cost = nullableFinite(d.cost)
  const startedAt = nullableTime(d.started_at)
  const completedAt = nullableTime(d.completed_at)
  const error = nullableText(d.error)
  const inputCount = nullableCount(d.input_count)
  const outputCount = nullableCount(d.output_count)
  const reasons = d.rejection_reasons == null ? null : (limitedRecord(d.rejection_reasons, isCount) ?? BAD)
  if (
    inputs === BAD || outputs === BAD || metadata === BAD || reasoning === BAD || cost === BAD || startedAt === undefined ||
    completedAt === undefined || error === BAD || inputCount === BAD || outputCount === BAD || reasons === BAD
  ) {
    return undefined
  }
  return {
    step_id: d.step_id,
    run_id: d.run_id,
    name: d.name,
    type: d.type,
    inputs,
    outputs,
    metadata,
    reasoning,
    cost,
    started_at: startedAt,
    completed_at: completedAt,
    error,
    input_count: inputCount,
    output_count: outputCount,
    rejection_reasons: reasons as Record<string, number> | null,
  }
}

function runComplete(d: Record<string, unknown>): EventEnvelope['payload'] | undefined {
  if (!isGuid(d.run_id) || typeof d.status !== 'string') return undefined
  const status = d.status.toLowerCase()
  if (status !== 'completed' && status !== 'failed') return undefined
  const completedAt = nullableTime(d.completed_at)
  const error = nullableText(d.error)
  const totalCost = nullableFinite(d.total_cost)
  if (completedAt === undefined || error === BAD || totalCost === BAD) return undefined
  return { run_id: d.run_id, status, completed_at: completedAt, error, total_cost: totalCost }
}

function log(d: Record<string, unknown>): EventEnvelope['payload'] | undefined {
  if (typeof d.level !== 'string' || typeof d.message !== 'string' || d.message.length === 0) return undefined
  const lower = d.level.toLowerCase()
  if (!Object.hasOwn(LEVEL_ALIASES, lower)) return undefined
  const level: LogLevel = LEVEL_ALIASES[lower]!
  const service = d.service == null ? null : isName0(d.service) ? d.service : BAD
  const attributes = d.attributes === undefined ? {} : limitedRecord(d.attributes, isAttributeValue)
  const runId = d.run_id == null ? null : isGuid(d.run_id) ? d.run_id : BAD
  if (service === BAD || attributes === undefined || runId === BAD) return undefined
  return { level, message: d.message, service, attributes: attributes as Record<string, string | number | boolean>, run_id: runId }
}

// ---------------------------------------------------------------------------------------------
// The field rules of event-schema.ts, one predicate each.

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false
  const proto = Object.getPrototypeOf(v) as unknown
  return proto === Object.prototype || proto === null
}

// The events of a run come together and share its run_id: the last GUID that passed is passed again
// without the pattern. (It starts as a GUID the pattern passes, never as something it refuses.)
let lastGuid = '00000000-0000-0000-0000-000000000000'

function isGuid(v: unknown): v is string {
  if (v === lastGuid) return true
  if (typeof v !== 'string' || v.length !== 36 || !GUID_PATTERN.test(v)) return false
  lastGuid = v
  return true
}

/** 1 to 200 characters (UTF-16 code units, as zod counts). */
function isName(v: unknown): v is string {
  return typeof v === 'string' && v.length >= 1 && v.length <= LIMITS.maxName
}

/** 0 to 200 characters. */
function isName0(v: unknown): v is string {
  return typeof v === 'string' && v.length <= LIMITS.maxName
}

function isTagValue(v: unknown): boolean {
  return typeof v === 'string' && v.length <= LIMITS.maxTagValue
}

function isCount(v: unknown): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= Number.MAX_SAFE_INTEGER - 1
}

function isAttributeValue(v: unknown): boolean {
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))
}

/** Epoch ms, or ISO-8601 with a zone, in range; `undefined` when neither. */
function time(v: unknown): number | undefined {
  let ms: number
  if (typeof v === 'number') ms = v
  else if (typeof v === 'string') {
    const utc = canonicalUtc(v)
    if (utc !== undefined) ms = utc
    else if (ISO_TIME_PATTERN.test(v)) ms = Date.parse(v)
    else return undefined
  } else return undefined
  return Number.isSafeInteger(ms) && ms >= MIN_TIME && ms <= MAX_TIME ? ms : undefined
}

/**
 * `YYYY-MM-DDTHH:MM:SSZ` or `YYYY-MM-DDTHH:MM:SS.mmmZ` (what `toISOString` writes, so what
 * SDKs send) read digit by digit: the epoch ms that `Date.parse` gives, for a date the pattern
 * accepts. `undefined` for anything else, which then goes through the pattern as before.
 */
function canonicalUtc(s: string): number | undefined {
  const n = s.length
  if (n !== 20 && n !== 24) return undefined
  if (s.charCodeAt(n - 1) !== 90 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) {
    return undefined // Z - - T : :
  }
  const year = digits(s, 0, 4)
  const month = digits(s, 5, 2)
  const day = digits(s, 8, 2)
  const hour = digits(s, 11, 2)
  const minute = digits(s, 14, 2)
  const second = digits(s, 17, 2)
  let milli = 0
  if (n === 24) {
    if (s.charCodeAt(19) !== 46) return undefined // .
    milli = digits(s, 20, 3)
  }
  // Below 1000, Date.UTC would read 0–99 as 19xx: leave those to the pattern (they are out of range anyway).
  if (year < 1000 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || milli < 0) return undefined
  return Date.UTC(year, month - 1, day, hour, minute, second, milli)
}

/** The decimal number of `count` ASCII digits at `at`; -1 when one is not a digit. */
function digits(s: string, at: number, count: number): number {
  let value = 0
  for (let i = at; i < at + count; i++) {
    const d = s.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    value = value * 10 + d
  }
  return value
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

/** null or absent → null; else a time, `undefined` when it is none. */
function nullableTime(v: unknown): number | null | undefined {
  return v == null ? null : time(v)
}

function nullableText(v: unknown): string | null | Bad {
  return v == null ? null : typeof v === 'string' ? v : BAD
}

function nullableFinite(v: unknown): number | null | Bad {
  return v == null ? null : typeof v === 'number' && Number.isFinite(v) ? v : BAD
}

function nullableCount(v: unknown): number | null | Bad {
  return v == null ? null : isCount(v) ? (v as number) : BAD
}

/** A free-form object as its JSON text (what zod's record + transform makes of it). */
function nullableJson(v: unknown): string | null | Bad {
  return v == null ? null : isPlainObject(v) ? JSON.stringify(v) : BAD
}

/** At most 200 keys of at most 200 characters, every value passing `valueOk`; the record itself. */
function limitedRecord(v: unknown, valueOk: (value: unknown) => boolean): Record<string, unknown> | undefined {
  if (!isPlainObject(v)) return undefined
  let keys = 0
  for (const key in v) {
    if (++keys > LIMITS.maxMapKeys || key.length > LIMITS.maxName || !valueOk(v[key])) return undefined
  }
  // `for in` also walks inherited keys; a plain object from JSON has none, but say so.
  return keys === Object.keys(v).length ? v : undefined
}
