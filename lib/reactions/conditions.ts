import { RE2JS } from 're2js'

/**
 * The condition language of reaction rules: `{field, op, value}` over dot paths into an event's
 * data. Rules are compiled once (patterns included) and evaluated per event without allocation
 * beyond the path walk. `matches` uses RE2 semantics (re2js): linear in the input, no
 * backtracking; a pattern RE2 cannot run (backreferences, lookaround) is refused at compile time.
 */

export const CONDITION_OPS = [
  'eq',
  'neq',
  'in',
  'nin',
  'contains',
  'not_contains',
  'starts_with',
  'gt',
  'gte',
  'lt',
  'lte',
  'exists',
  'matches',
] as const
export type ConditionOp = (typeof CONDITION_OPS)[number]

export interface Condition {
  field: string
  op: ConditionOp
  value?: unknown
}

export type CompiledCondition = (view: EventView) => boolean

/** What a condition sees: the event's data plus derived fields, read by dot path. */
export type EventView = Record<string, unknown>

export class ConditionError extends Error {
  readonly index: number
  constructor(index: number, message: string) {
    super(`conditions[${index}]: ${message}`)
    this.name = 'ConditionError'
    this.index = index
  }
}

export const MAX_PATTERN_LENGTH = 1000

/** Compiles conditions (all must hold). Throws ConditionError naming the first bad one. */
export function compileConditions(conditions: readonly Condition[]): CompiledCondition {
  const compiled = conditions.map((c, i) => compileCondition(c, i))
  return (view) => compiled.every((test) => test(view))
}

function compileCondition(c: Condition, index: number): CompiledCondition {
  const path = c.field.split('.')
  const get = (view: EventView) => readPath(view, path)
  const v = c.value
  const fail = (message: string): never => {
    throw new ConditionError(index, message)
  }
  switch (c.op) {
    case 'eq':
      return (view) => same(get(view), v)
    case 'neq':
      return (view) => !same(get(view), v)
    case 'in': {
      if (!Array.isArray(v)) fail('`in` needs an array value')
      const list = v as unknown[]
      return (view) => {
        const x = get(view)
        return list.some((y) => same(x, y))
      }
    }
    case 'nin': {
      if (!Array.isArray(v)) fail('`nin` needs an array value')
      const list = v as unknown[]
      return (view) => {
        const x = get(view)
        return !list.some((y) => same(x, y))
      }
    }
    case 'contains':
    case 'not_contains': {
      const negate = c.op === 'not_contains'
      return (view) => {
        const x = get(view)
        let found = false
        if (typeof x === 'string' && typeof v === 'string') found = x.includes(v)
        else if (Array.isArray(x)) found = x.some((y) => same(y, v))
        return negate ? !found : found
      }
    }
    case 'starts_with':
      if (typeof v !== 'string') fail('`starts_with` needs a string value')
      return (view) => {
        const x = get(view)
        return typeof x === 'string' && x.startsWith(v as string)
      }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(`\`${c.op}\` needs a number value`)
      const n = v as number
      const cmp = { gt: (x: number) => x > n, gte: (x: number) => x >= n, lt: (x: number) => x < n, lte: (x: number) => x <= n }[c.op]
      return (view) => {
        const x = get(view)
        return typeof x === 'number' && cmp(x)
      }
    }
    case 'exists': {
      if (v !== undefined && typeof v !== 'boolean') fail('`exists` takes true, false or no value')
      const want = v ?? true
      return (view) => {
        const x = get(view)
        return (x !== undefined && x !== null) === want
      }
    }
    case 'matches': {
      if (typeof v !== 'string') fail('`matches` needs a string pattern')
      const pattern = compilePattern(v as string, index)
      return (view) => {
        const x = get(view)
        return typeof x === 'string' && pattern.test(x)
      }
    }
    default:
      return fail(`unknown op ${String(c.op)}`)
  }
}

/** RE2 patterns only: linear-time matching, or a ConditionError saying why not. */
export function compilePattern(source: string, index = 0): RE2JS {
  if (source.length > MAX_PATTERN_LENGTH) throw new ConditionError(index, `pattern longer than ${MAX_PATTERN_LENGTH} characters`)
  try {
    return RE2JS.compile(source)
  } catch (err) {
    throw new ConditionError(index, `pattern cannot run in linear time or is invalid (RE2 syntax: no backreferences or lookaround): ${(err as Error).message}`)
  }
}

/** Numbers compare by value, everything else strictly; a number and a numeric string are equal. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a === 'number' && typeof b === 'string') return b.trim() !== '' && Number(b) === a
  if (typeof a === 'string' && typeof b === 'number') return a.trim() !== '' && Number(a) === b
  return false
}

export function readPath(view: EventView, path: readonly string[]): unknown {
  let cur: unknown = view
  for (const key of path) {
    if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, key)) return undefined
    cur = (cur as Record<string, unknown>)[key]
  }
  return cur
}
