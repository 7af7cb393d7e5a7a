import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { generateRun, prng } from '../test/fixtures/pipeline-runs.ts'
import { propertyRuns } from '../test/helpers/property-app.ts'
import { fastNormalize } from './event-fast-path.ts'
import { normalizeWithZod, type EventContext } from './event-schema.ts'

// The fast path may only accept what zod accepts, and then make exactly zod's envelope. Events
// are generated near every rule's edge (lengths, ranges, types, nulls, absent keys), so both
// sides of each rule come up; the counts at the end prove the fast path was taken and declined.

const RUNS = propertyRuns(3000)
const ctx: EventContext = { projectId: 'p', receivedAt: 1_700_000_000_000, requestId: 'r', newId: () => 'server-id' }

/** Mostly values on the valid side, often right at an edge, sometimes just past one. */
const mostly = <T,>(valid: fc.Arbitrary<T>, edges: fc.Arbitrary<T>) => fc.oneof({ weight: 8, arbitrary: valid }, { weight: 1, arbitrary: edges })
const guid = mostly(
  fc.oneof(fc.uuid(), fc.uuid().map((u) => u.toUpperCase())),
  fc.constantFrom('not-a-uuid', '', '0b6f4a52-3c1e-4a8e-9d1f-6a7b8c9d0e1', '0b6f4a52-3c1e-4a8e-9d1f-6a7b8c9d0e1fz', 'zb6f4a52-3c1e-4a8e-9d1f-6a7b8c9d0e1f'),
)
const edgeString = (max: number) =>
  mostly(
    fc.oneof(fc.string({ minLength: 1, maxLength: 5 }), fc.constant('x'.repeat(max)), fc.constant('é😀')),
    fc.constantFrom('', 'x'.repeat(max + 1), 'x'.repeat(max - 1)),
  )
const isoTime = mostly(
  fc.date({ min: new Date(Date.UTC(1970, 0, 1)), max: new Date(Date.UTC(2199, 11, 31)), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom('2026-11-22T01:02:03+02:00', '2026-11-22T01:02:03', '2026-02-29T00:00:00Z', '2024-02-29T23:59:59.123456-05:30', 'yesterday', '1970-01-01T00:00:00+01:00', '1969-12-31T23:59:59.999Z', '2200-01-01T00:00:00Z',
    // The fast path reads the toISOString shape by hand: every field just past its edge.
    '2026-02-30T00:00:00Z', '2100-02-29T00:00:00.000Z', '2000-02-29T00:00:00.000Z', '2028-02-29T23:59:59.999Z', '2026-04-31T12:00:00Z', '2026-13-01T00:00:00Z',
    '2026-00-10T00:00:00Z', '2026-01-00T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T23:60:00Z', '2026-01-01T23:59:60Z', '2026-01-01T00:00:00.12Z',
    '2026-01-01T00:00:00,123Z', '2026-01-01 00:00:00.000Z', '2026-01-01T00:00:00.000z', '2026-01-01T00:00:00.0a0Z', '0999-01-01T00:00:00Z', '+02026-01-01T00:00:00Z'),
)
const epoch = mostly(
  fc.integer({ min: 0, max: Date.UTC(2200, 0, 1) - 1 }),
  fc.constantFrom(-1, 0, Date.UTC(2200, 0, 1) - 1, Date.UTC(2200, 0, 1), 1.5, Number.MAX_SAFE_INTEGER, Infinity, NaN),
)
const time = fc.oneof(isoTime, epoch)
const count = mostly(fc.nat(), fc.constantFrom(-1, 0, Number.MAX_SAFE_INTEGER - 1, Number.MAX_SAFE_INTEGER, 2 ** 60, 0.5, -0))
const junk = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.string({ maxLength: 3 }), fc.constant([]), fc.constant([1]), fc.constant({}))

/** Usually a good value, sometimes absent, null or another type. */
const field = <T,>(good: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 20, arbitrary: good }, { weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: junk })
const record = <T,>(value: fc.Arbitrary<T>): fc.Arbitrary<Record<string, unknown>> =>
  mostly<Record<string, unknown>>(
    fc.dictionary(edgeString(200), value, { maxKeys: 4 }),
    fc.integer({ min: 199, max: 201 }).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 1]))),
  )
const jsonObject = fc.oneof(fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }), fc.constant({ 2: 'b', a: 1, 1: 'a' }))
const level = mostly(fc.constantFrom('info', 'WARNING', 'Critical', 'debug', 'error', 'fatal', 'warn'), fc.constantFrom('nope', 'constructor', 'toString', '__proto__'))

function withFields(shape: Record<string, fc.Arbitrary<unknown>>) {
  return fc.record(shape).map((o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)))
}

const dataByType: Record<string, fc.Arbitrary<Record<string, unknown>>> = {
  run_start: withFields({ run_id: field(guid), name: field(edgeString(200)), tags: field(record(edgeString(1000))), started_at: field(time), extra: field(junk) }),
  step_complete: withFields({
    step_id: field(guid),
    run_id: field(guid),
    name: field(edgeString(200)),
    type: field(edgeString(200)),
    inputs: field(jsonObject),
    outputs: field(jsonObject),
    metadata: field(jsonObject),
    reasoning: field(fc.string({ maxLength: 4 })),
    cost: field(mostly(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(-0, 1e308, Infinity, NaN))),
    started_at: field(time),
    completed_at: field(time),
    error: field(fc.string({ maxLength: 4 })),
    input_count: field(count),
    output_count: field(count),
    rejection_reasons: field(record(count)),
  }),
  run_complete: withFields({
    run_id: field(guid),
    status: field(mostly(fc.constantFrom('completed', 'FAILED', 'Completed'), fc.constantFrom('done', '', 'completedx'))),
    completed_at: field(time),
    error: field(fc.string({ maxLength: 4 })),
    total_cost: field(mostly(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(Infinity, NaN))),
  }),
  log: withFields({
    level: field(level),
    message: field(mostly(fc.string({ minLength: 1, maxLength: 3 }), fc.constant(''))),
    service: field(edgeString(200)),
    attributes: field(record(mostly<unknown>(fc.oneof(fc.string({ maxLength: 3 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean()), fc.constantFrom(null, [], Infinity, NaN)))),
    run_id: field(guid),
    timestamp: field(time),
  }),
}

const rawEvent = fc
  .constantFrom('run_start', 'step_complete', 'run_complete', 'log', 'toString', 'nope')
  .chain((type) =>
    withFields({
      id: field(guid),
      type: fc.oneof({ weight: 8, arbitrary: fc.constant(type) }, { weight: 1, arbitrary: junk }),
      timestamp: field(time),
      data: fc.oneof({ weight: 8, arbitrary: Object.hasOwn(dataByType, type) ? dataByType[type]! : dataByType.log! }, { weight: 1, arbitrary: junk }),
    }),
  )

describe('fastNormalize against the zod schemas', () => {
  it('accepts only what zod accepts, and makes the same envelope', { timeout: 120_000 }, () => {
    const taken = { fast: 0, zodOnlyOk: 0, refused: 0 }
    fc.assert(
      fc.property(rawEvent, (raw) => {
        const byZod = normalizeWithZod(structuredClone(raw), ctx)
        const fast = fastNormalize(structuredClone(raw), ctx)
        if (fast !== undefined) {
          taken.fast++
          expect(byZod).toEqual({ ok: fast })
        } else if ('ok' in byZod) taken.zodOnlyOk++
        else taken.refused++
      }),
      { numRuns: RUNS },
    )
    // Both outcomes must have come up, or the property proved nothing.
    expect(taken.fast).toBeGreaterThan(RUNS / 50)
    expect(taken.refused).toBeGreaterThan(RUNS / 50)
  })

  it('takes every event of the fixture pipeline (what SDKs send) without zod', () => {
    const rand = prng(7)
    const events = Array.from({ length: 20 }, () => generateRun(rand, 'fast-path', ctx.receivedAt).events).flat()
    for (const e of events) {
      const fast = fastNormalize(structuredClone(e), ctx)
      expect(fast).toBeDefined()
      expect(normalizeWithZod(e, ctx)).toEqual({ ok: fast })
    }
  })

  it('keeps key order of free-form objects as zod does (integer-like keys first)', () => {
    const raw = { type: 'step_complete', data: { step_id: '1c7e5b63-4d2f-4b9f-8e20-7b8c9d0e1f2a', run_id: '0b6f4a52-3c1e-4a8e-9d1f-6a7b8c9d0e1f', name: 'n', type: 't', inputs: { b: 1, 2: 'x', a: 2 } } }
    const fast = fastNormalize(raw, ctx)
    expect(fast?.payload).toMatchObject({ inputs: '{"2":"x","b":1,"a":2}' })
    expect(normalizeWithZod(raw, ctx)).toEqual({ ok: fast })
  })
})
