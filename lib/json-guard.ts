/**
 * What every JSON value from a client goes through before Sluice stores any of it: a depth limit
 * (deeper values make JSON.stringify and other recursive code overflow the stack, a 500), and text
 * that a store cannot hold. Postgres `text` and `jsonb` refuse NUL (U+0000), and a lone UTF-16
 * surrogate has no UTF-8 form at all (Node would silently write U+FFFD, jsonb refuses `\ud800`).
 * The walk is iterative, so no input can overflow it.
 */

/** Levels of objects and arrays, the value itself being level 1. */
export const MAX_JSON_DEPTH = 64

export const REPLACEMENT_CHARACTER = '\uFFFD'

// Without the `u` flag a regex sees UTF-16 code units, so it can find the unpaired halves.
// eslint-disable-next-line no-control-regex -- finding NUL is the point
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g')

/** True when `s` has a NUL or a lone surrogate. */
export function hasUnstorableText(s: string): boolean {
  return UNSTORABLE.test(s)
}

/** `s` with every NUL and lone surrogate replaced by U+FFFD (the same length in UTF-16). */
export function storableText(s: string): string {
  return UNSTORABLE.test(s) ? s.replace(UNSTORABLE_ALL, REPLACEMENT_CHARACTER) : s
}

export type JsonProblem = { kind: 'too_deep'; path: string } | { kind: 'unstorable_text'; path: string }

export interface GuardOptions {
  /** Replace unstorable text in place (keys included) and report only depth. */
  repair: boolean
  maxDepth?: number
  /**
   * false when the caller knows no string in `value` can hold unstorable text (see
   * `ingest/json-body-parser.ts`: parsed JSON without a `\u` escape): only depth is checked.
   */
  text?: boolean
}

/** An object or array on the walk; its path is built only for a problem, from the chain. */
interface Frame {
  node: object
  depth: number
  parent: Frame | undefined
  key: string
}

/**
 * Checks `value` (parsed JSON: objects, arrays, strings, numbers, booleans, null). With
 * `repair: true` it replaces unstorable text in place, keys included, and reports only depth;
 * otherwise it reports the first unstorable string too. Returns null when all is well.
 */
export function guardJson(value: unknown, options: GuardOptions): JsonProblem | null {
  const maxDepth = options.maxDepth ?? MAX_JSON_DEPTH
  const text = options.text ?? true
  if (typeof value === 'string') return text ? checkString(value, '', options.repair) : null
  const stack: Frame[] = []
  if (typeof value === 'object' && value !== null) stack.push({ node: value, depth: 1, parent: undefined, key: '' })
  while (stack.length > 0) {
    const frame = stack.pop()!
    const { node, depth } = frame
    if (depth > maxDepth) return { kind: 'too_deep', path: pathOf(frame) || '(root)' }
    const record = node as Record<string, unknown>
    const isArray = Array.isArray(node)
    for (const key of Object.keys(record)) {
      let name = key
      if (text && !isArray && hasUnstorableText(key)) {
        if (!options.repair) return { kind: 'unstorable_text', path: join(pathOf(frame), storableText(key)) }
        name = storableText(key)
        record[name] = record[key]
        delete record[key]
      }
      const child = record[name]
      if (typeof child === 'string') {
        if (text && hasUnstorableText(child)) {
          if (!options.repair) return { kind: 'unstorable_text', path: join(pathOf(frame), name) }
          record[name] = storableText(child)
        }
      } else if (typeof child === 'object' && child !== null) stack.push({ node: child, depth: depth + 1, parent: frame, key: name })
    }
  }
  return null
}

/** The dotted path of a frame ('' for the value itself); at most maxDepth links long. */
function pathOf(frame: Frame): string {
  return frame.parent === undefined ? '' : join(pathOf(frame.parent), frame.key)
}

function checkString(s: string, path: string, repair: boolean): JsonProblem | null {
  return !repair && hasUnstorableText(s) ? { kind: 'unstorable_text', path: path || '(root)' } : null
}

function join(path: string, key: string): string {
  const shown = key.length > 50 ? `${key.slice(0, 50)}…` : key
  return path ? `${path}.${shown}` : shown
}
