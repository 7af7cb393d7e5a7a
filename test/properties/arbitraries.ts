/**
 * Inputs for the property tests: close enough to real requests to get past the first checks,
 * with the edges mixed in (NUL, lone surrogates, huge and negative numbers, odd times, deep values).
 */
import fc from 'fast-check'

/** Any UTF-16 text: NUL, lone surrogates and every other code unit included. */
export const anyText = fc.oneof(
  fc.string(),
  fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 20 }).map((units) => String.fromCharCode(...units)),
  fc.constantFrom('', '\u0000', '\uD800', '\uDFFF', 'a\uD83D', '__proto__', 'constructor', 'toString', ' ', '%00', '../'),
)

export const uuid = fc.uuid()

/** Times in every form a client might send, valid or not. */
export const anyTime = fc.oneof(
  fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.integer({ min: -1e16, max: 1e16 }),
  fc.double(),
  fc.constantFrom('0000-01-01T00:00:00Z', '2199-12-31T23:59:59.999Z', '2200-01-01T00:00:00Z', '1970-01-01T00:00:00Z', '2026-13-45T99:99:99Z', '2026-01-01', 'now'),
  anyText,
)

/** Values nested up to `depth`, leaves of every JSON kind. */
export const jsonish = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    anyText,
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(anyText, tie('value'), { maxKeys: 4 }),
  ),
})).value

/** A value nested `n` deep, around the 64-level limit. */
export const deepValue = fc.integer({ min: 55, max: 80 }).map((n) => {
  let v: unknown = 'leaf'
  for (let i = 0; i < n; i++) v = i % 2 ? [v] : { k: v }
  return v
})

const field = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ weight: 3, arbitrary: arb }, { weight: 1, arbitrary: jsonish })

/** The data of an event of any type: the real field names with right-ish or wrong values. */
export const eventData = fc.record(
  {
    run_id: field(uuid),
    step_id: field(uuid),
    name: field(anyText),
    type: field(fc.constantFrom('llm', 'retrieval', 'filter', 'logic', 'other')),
    level: field(fc.constantFrom('debug', 'info', 'warn', 'warning', 'error', 'fatal', 'critical', 'constructor')),
    message: field(anyText),
    service: field(anyText),
    status: field(fc.constantFrom('completed', 'failed', 'COMPLETED', 'running')),
    tags: field(fc.dictionary(anyText, anyText, { maxKeys: 5 })),
    attributes: field(fc.dictionary(anyText, fc.oneof(anyText, fc.double(), fc.boolean()), { maxKeys: 5 })),
    inputs: field(fc.oneof(jsonish, deepValue)),
    outputs: field(jsonish),
    metadata: field(jsonish),
    cost: field(fc.double()),
    input_count: field(fc.integer({ min: -10, max: Number.MAX_SAFE_INTEGER })),
    rejection_reasons: field(fc.dictionary(anyText, fc.integer(), { maxKeys: 3 })),
    started_at: field(anyTime),
    completed_at: field(anyTime),
    timestamp: field(anyTime),
    error: field(anyText),
  },
  { requiredKeys: [] },
)

export const eventLike = fc.record(
  {
    id: field(uuid),
    type: field(fc.constantFrom('run_start', 'step_complete', 'run_complete', 'log', 'toString', '')),
    timestamp: field(anyTime),
    data: field(eventData),
  },
  { requiredKeys: ['type', 'data'] },
)

/** A time that is valid, near the edges of the range or not. */
const goodTime = fc.oneof(
  fc.date({ min: new Date(0), max: new Date(Date.UTC(2200, 0, 1) - 1), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.integer({ min: 0, max: Date.UTC(2200, 0, 1) - 1 }),
  fc.constantFrom('1970-01-01T00:00:00Z', '2199-12-31T23:59:59.999Z', '2026-11-22T01:02:03.456+05:30'),
)
const name = fc.oneof(fc.string({ minLength: 1, maxLength: 30 }), anyText.filter((s) => s.length > 0 && s.length <= 200))
const textMap = fc.dictionary(fc.string({ maxLength: 10 }), anyText, { maxKeys: 4 })
const jsonObject = fc.dictionary(anyText, jsonish, { maxKeys: 4 })

/** Events of each type that pass validation (edge text included), so the acceptor and producer run. */
export const validEvent = fc.oneof(
  fc.record({
    id: uuid,
    type: fc.constant('run_start'),
    timestamp: goodTime,
    data: fc.record({ run_id: uuid, name, tags: textMap, started_at: goodTime }, { requiredKeys: ['run_id', 'name'] }),
  }, { requiredKeys: ['type', 'data'] }),
  fc.record({
    id: uuid,
    type: fc.constant('step_complete'),
    data: fc.record(
      { step_id: uuid, run_id: uuid, name, type: fc.constantFrom('llm', 'retrieval', 'filter', 'logic', 'x'), inputs: jsonObject, outputs: jsonObject, reasoning: anyText, cost: fc.double({ noNaN: true, noDefaultInfinity: true }), input_count: fc.nat(), completed_at: goodTime },
      { requiredKeys: ['step_id', 'run_id', 'name', 'type'] },
    ),
  }, { requiredKeys: ['type', 'data'] }),
  fc.record({
    id: uuid,
    type: fc.constant('run_complete'),
    data: fc.record({ run_id: uuid, status: fc.constantFrom('completed', 'failed', 'FAILED'), error: anyText }, { requiredKeys: ['run_id', 'status'] }),
  }, { requiredKeys: ['type', 'data'] }),
  fc.record({ id: uuid, type: fc.constant('log'), data: validLogData() }, { requiredKeys: ['type', 'data'] }),
)

/** The data of a log event that passes validation. */
export function validLogData() {
  return fc.record(
    {
      level: fc.constantFrom('debug', 'info', 'warn', 'warning', 'error', 'fatal', 'critical', 'INFO'),
      message: anyText.filter((s) => s.length > 0),
      service: fc.string({ maxLength: 20 }),
      attributes: fc.dictionary(fc.string({ maxLength: 10 }), fc.oneof(anyText, fc.integer(), fc.boolean()), { maxKeys: 4 }),
      run_id: uuid,
      timestamp: goodTime,
    },
    { requiredKeys: ['level', 'message'] },
  )
}

/** A reaction body that passes validation. */
export const validReaction = fc.record(
  {
    name,
    event_type: fc.constantFrom('log', 'step_complete', 'run_complete'),
    conditions: fc.array(
      fc.record({ field: fc.constantFrom('message', 'attributes.region', 'level', 'service'), op: fc.constantFrom('eq', 'contains', 'exists'), value: fc.string() }),
      { maxLength: 3 },
    ),
    threshold: fc.record({ count: fc.integer({ min: 1, max: 100 }), window_seconds: fc.integer({ min: 1, max: 3600 }) }),
    severity: fc.constantFrom('info', 'warning', 'error', 'critical'),
    actions: fc.array(fc.oneof(fc.constant({ type: 'complaint' }), fc.record({ type: fc.constant('webhook'), url: fc.webUrl({ validSchemes: ['https'] }) })), { maxLength: 2 }),
  },
  { requiredKeys: ['name', 'event_type'] },
)
