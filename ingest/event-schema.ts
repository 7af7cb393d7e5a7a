import { z } from 'zod'
import type { EventEnvelope, LogLevel } from '../lib/event-types.ts'
import { MAX_TIME, MIN_TIME, TIME_RANGE_MESSAGE } from '../lib/time-range.ts'
import { fastNormalize } from './event-fast-path.ts'

/**
 * The contract's event JSON, validated and normalized into `EventEnvelope`s. Limits on every field:
 * a batch can hold 10,000 events, so nothing here is unbounded.
 */

const MAX_NAME = 200
const MAX_TAG_VALUE = 1000
const MAX_MAP_KEYS = 200
// Every other text (message, reasoning, error, attribute values, inputs/outputs/metadata) has no
// limit of its own: the event's (1 MiB as JSON, checked in the batch acceptor) bounds it.

// ISO-8601 with a zone (Z or ±hh:mm), or epoch milliseconds; normalized to epoch ms. Both forms
// are held to the same range: an ISO time in year 0 once slipped through as a negative number.
const inRange = z.number().int().min(MIN_TIME, TIME_RANGE_MESSAGE).max(MAX_TIME, TIME_RANGE_MESSAGE)
const isoTime = z.iso.datetime({ offset: true })
export const timestamp = z.union([inRange, isoTime.transform((s) => Date.parse(s)).pipe(inRange)])

const id = z.guid()

/** The limits and the patterns zod checks, for the fast path (event-fast-path.ts) to check the same. */
export const LIMITS = { maxName: MAX_NAME, maxTagValue: MAX_TAG_VALUE, maxMapKeys: MAX_MAP_KEYS } as const
export const GUID_PATTERN = patternOf(id)
export const ISO_TIME_PATTERN = patternOf(isoTime)
const name = z.string().min(1).max(MAX_NAME)
const text = z.string()
// Avro longs in avsc stop at 2^53 - 2.
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER - 1)
const jsonObject = z
  .record(z.string(), z.unknown())
  .transform((o) => JSON.stringify(o))
const limitedRecord = <T extends z.ZodType>(value: T) =>
  z.record(z.string().max(MAX_NAME), value).refine((r) => Object.keys(r).length <= MAX_MAP_KEYS, `at most ${MAX_MAP_KEYS} keys`)

const runStart = z.object({
  run_id: id,
  name,
  tags: limitedRecord(z.string().max(MAX_TAG_VALUE)).default({}),
  started_at: timestamp.nullish().transform((v) => v ?? null),
})

const stepComplete = z.object({
  step_id: id,
  run_id: id,
  name,
  type: z.string().min(1).max(MAX_NAME),
  inputs: jsonObject.nullish().transform((v) => v ?? null),
  outputs: jsonObject.nullish().transform((v) => v ?? null),
  metadata: jsonObject.nullish().transform((v) => v ?? null),
  reasoning: text.nullish().transform((v) => v ?? null),
  cost: z.number().finite().nullish().transform((v) => v ?? null),
  started_at: timestamp.nullish().transform((v) => v ?? null),
  completed_at: timestamp.nullish().transform((v) => v ?? null),
  error: text.nullish().transform((v) => v ?? null),
  input_count: count.nullish().transform((v) => v ?? null),
  output_count: count.nullish().transform((v) => v ?? null),
  rejection_reasons: limitedRecord(count).nullish().transform((v) => v ?? null),
})

const runComplete = z.object({
  run_id: id,
  status: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(['completed', 'failed'])),
  completed_at: timestamp.nullish().transform((v) => v ?? null),
  error: text.nullish().transform((v) => v ?? null),
  total_cost: z.number().finite().nullish().transform((v) => v ?? null),
})

export const LEVEL_ALIASES: Readonly<Record<string, LogLevel>> = {
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  fatal: 'fatal',
  critical: 'fatal',
}

export const logData = z.object({
  level: z
    .string()
    // Own keys only: LEVEL_ALIASES['constructor'] is Object, not undefined.
    .transform((s) => (Object.hasOwn(LEVEL_ALIASES, s.toLowerCase()) ? LEVEL_ALIASES[s.toLowerCase()] : undefined))
    .refine((v): v is LogLevel => v !== undefined, 'must be debug, info, warn (warning), error or fatal (critical)')
    .transform((v) => v as LogLevel),
  message: z.string().min(1),
  service: z.string().max(MAX_NAME).nullish().transform((v) => v ?? null),
  attributes: limitedRecord(z.union([z.string(), z.number().finite(), z.boolean()])).default({}),
  run_id: id.nullish().transform((v) => v ?? null),
  timestamp: timestamp.nullish().transform((v) => v ?? null),
})

const dataByType = {
  run_start: runStart,
  step_complete: stepComplete,
  run_complete: runComplete,
  log: logData,
} as const

export const rawEvent = z.object({
  id: id.optional(),
  type: z.string(),
  timestamp: timestamp.optional(),
  data: z.record(z.string(), z.unknown()),
})

export type EventProblem = { kind: 'unknown_type' | 'invalid'; message: string }

export interface EventContext {
  projectId: string
  receivedAt: number
  requestId: string
  newId: () => string
}

/** One raw event → an envelope, or what is wrong with it (one line, with the field path). */
export function normalizeEvent(raw: unknown, ctx: EventContext): { ok: EventEnvelope } | { problem: EventProblem } {
  // Most events are valid: checked without zod, which then only has to judge (and word) the rest.
  const fast = fastNormalize(raw, ctx)
  if (fast !== undefined) return { ok: fast }
  return normalizeWithZod(raw, ctx)
}

/** `normalizeEvent` by the zod schemas alone: the contract, and what words every problem. */
export function normalizeWithZod(raw: unknown, ctx: EventContext): { ok: EventEnvelope } | { problem: EventProblem } {
  const outer = rawEvent.safeParse(raw)
  if (!outer.success) return { problem: { kind: 'invalid', message: describe(outer.error) } }
  const { type } = outer.data
  // Own keys only: `"toString" in dataByType` is true and would crash the whole batch.
  if (!Object.hasOwn(dataByType, type)) {
    return { problem: { kind: 'unknown_type', message: `type must be one of ${Object.keys(dataByType).join(', ')}` } }
  }
  const parsed = dataByType[type as keyof typeof dataByType].safeParse(outer.data.data)
  if (!parsed.success) return { problem: { kind: 'invalid', message: describe(parsed.error, 'data') } }
  const payload = parsed.data
  const eventTime =
    outer.data.timestamp ?? ('timestamp' in payload && payload.timestamp !== null ? payload.timestamp : null) ?? ctx.receivedAt
  const base = {
    id: outer.data.id ?? ctx.newId(),
    project_id: ctx.projectId,
    timestamp: eventTime,
    received_at: ctx.receivedAt,
    request_id: ctx.requestId,
  }
  if (type === 'log') {
    const { timestamp: _t, ...log } = payload as z.infer<typeof logData>
    return { ok: { ...base, type: 'log', payload: log } }
  }
  return { ok: { ...base, type, payload } as EventEnvelope }
}

/** The regular expression a zod string format checks with (zod's own, so the two cannot drift). */
function patternOf(schema: z.ZodType): RegExp {
  const pattern = (schema as unknown as { _zod: { def: { pattern?: unknown } } })._zod.def.pattern
  if (!(pattern instanceof RegExp)) throw new Error('zod string format without a pattern')
  return pattern
}

function describe(error: z.ZodError, prefix?: string): string {
  return error.issues
    .slice(0, 3)
    .map((i) => {
      const path = [prefix, ...i.path.map(String)].filter(Boolean).join('.')
      return path ? `${path}: ${i.message}` : i.message
    })
    .join('; ')
}
