import { describe, expect, it } from 'vitest'
import { normalizeEvent, type EventContext } from './event-schema.ts'

const ctx: EventContext = { projectId: 'project-1', receivedAt: 1_700_000_000_000, requestId: 'req-1', newId: () => 'server-made-id' }
const RUN = '0b6f4a52-3c1e-4a8e-9d1f-6a7b8c9d0e1f'
const STEP = '1c7e5b63-4d2f-4b9f-8e20-7b8c9d0e1f2a'
const EVENT = '2d8f6c74-5e30-4ca0-9f31-8c9d0e1f2a3b'

function ok(raw: unknown) {
  const result = normalizeEvent(raw, ctx)
  if (!('ok' in result)) throw new Error(`expected ok, got ${JSON.stringify(result)}`)
  return result.ok
}

function problem(raw: unknown) {
  const result = normalizeEvent(raw, ctx)
  if (!('problem' in result)) throw new Error(`expected a problem, got ${JSON.stringify(result)}`)
  return result.problem
}

describe('normalizeEvent: run_start', () => {
  it('fills defaults: server id, received time, empty tags, no started_at', () => {
    expect(ok({ type: 'run_start', data: { run_id: RUN, name: 'recs' } })).toEqual({
      id: 'server-made-id',
      project_id: 'project-1',
      type: 'run_start',
      timestamp: ctx.receivedAt,
      received_at: ctx.receivedAt,
      request_id: 'req-1',
      payload: { run_id: RUN, name: 'recs', tags: {}, started_at: null },
    })
  })

  it('keeps the client id and reads ISO (any offset) and epoch-ms timestamps as epoch ms', () => {
    const e = ok({
      id: EVENT,
      type: 'run_start',
      timestamp: '2026-11-22T01:02:03.456+02:00',
      data: { run_id: RUN, name: 'recs', tags: { env: 'test' }, started_at: 1_763_000_000_123 },
    })
    expect(e.id).toBe(EVENT)
    expect(e.timestamp).toBe(Date.UTC(2026, 10, 21, 23, 2, 3, 456))
    expect(e.payload).toEqual({ run_id: RUN, name: 'recs', tags: { env: 'test' }, started_at: 1_763_000_000_123 })
    expect(ok({ type: 'run_start', timestamp: '2026-11-22T01:02:03.456Z', data: { run_id: RUN, name: 'r' } }).timestamp).toBe(
      Date.UTC(2026, 10, 22, 1, 2, 3, 456),
    )
  })

  it('refuses a timestamp without a zone, out of range or fractional epoch', () => {
    for (const timestamp of ['2026-11-22T01:02:03', -1, Date.UTC(2200, 0, 2), 1.5, 'yesterday']) {
      expect(problem({ type: 'run_start', timestamp, data: { run_id: RUN, name: 'r' } }).kind).toBe('invalid')
    }
  })

  it('names the bad fields', () => {
    expect(problem({ type: 'run_start', data: { run_id: 'not-a-uuid', name: '' } })).toEqual({
      kind: 'invalid',
      message: 'data.run_id: Invalid GUID; data.name: Too small: expected string to have >=1 characters',
    })
  })

  it('enforces the limits on names and tags', () => {
    expect(problem({ type: 'run_start', data: { run_id: RUN, name: 'x'.repeat(201) } }).message).toMatch(/^data\.name:/)
    const tags = Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`k${i}`, 'v']))
    expect(problem({ type: 'run_start', data: { run_id: RUN, name: 'r', tags } }).message).toMatch(/^data\.tags: at most 200 keys/)
    expect(ok({ type: 'run_start', data: { run_id: RUN, name: 'x'.repeat(200) } }).type).toBe('run_start')
  })
})

describe('normalizeEvent: step_complete', () => {
  it('fills every optional field with null', () => {
    expect(ok({ type: 'step_complete', data: { step_id: STEP, run_id: RUN, name: 'filter', type: 'filter' } }).payload).toEqual({
      step_id: STEP,
      run_id: RUN,
      name: 'filter',
      type: 'filter',
      inputs: null,
      outputs: null,
      metadata: null,
      reasoning: null,
      cost: null,
      started_at: null,
      completed_at: null,
      error: null,
      input_count: null,
      output_count: null,
      rejection_reasons: null,
    })
  })

  it('keeps inputs, outputs and metadata as JSON strings and converts step times', () => {
    const inputs = { query: 'shoes', nested: { list: [1, 2, { a: null }] } }
    const e = ok({
      type: 'step_complete',
      data: {
        step_id: STEP,
        run_id: RUN,
        name: 'llm rank',
        type: 'any other string',
        inputs,
        outputs: {},
        metadata: { model: 'x' },
        cost: 0.0123,
        started_at: '2026-11-22T01:00:00.000Z',
        completed_at: 1_763_773_200_500,
        input_count: 10,
        output_count: 0,
        rejection_reasons: { too_expensive: 7, off_topic: 3 },
      },
    })
    expect(e.type).toBe('step_complete')
    if (e.type !== 'step_complete') return
    expect(e.payload.inputs).toBe(JSON.stringify(inputs))
    expect(JSON.parse(e.payload.inputs!)).toEqual(inputs)
    expect(e.payload.outputs).toBe('{}')
    expect(e.payload.metadata).toBe('{"model":"x"}')
    expect(e.payload.started_at).toBe(Date.UTC(2026, 10, 22, 1, 0, 0, 0))
    expect(e.payload.completed_at).toBe(1_763_773_200_500)
    expect(e.payload.rejection_reasons).toEqual({ too_expensive: 7, off_topic: 3 })
    expect(e.payload.output_count).toBe(0)
  })

  it('refuses negative or fractional counts, non-object inputs, and infinite costs', () => {
    const base = { step_id: STEP, run_id: RUN, name: 's', type: 'llm' }
    expect(problem({ type: 'step_complete', data: { ...base, input_count: -1 } }).message).toMatch(/^data\.input_count:/)
    expect(problem({ type: 'step_complete', data: { ...base, output_count: 1.5 } }).message).toMatch(/^data\.output_count:/)
    expect(problem({ type: 'step_complete', data: { ...base, input_count: 2 ** 53 } }).message).toMatch(/^data\.input_count:/)
    expect(problem({ type: 'step_complete', data: { ...base, inputs: [1, 2] } }).message).toMatch(/^data\.inputs:/)
    expect(problem({ type: 'step_complete', data: { ...base, rejection_reasons: { x: -2 } } }).message).toMatch(/^data\.rejection_reasons\.x:/)
    expect(problem({ type: 'step_complete', data: { ...base, type: '' } }).message).toMatch(/^data\.type:/)
  })
})

describe('normalizeEvent: run_complete', () => {
  it('matches status case-insensitively and stores it lower case', () => {
    for (const status of ['completed', 'COMPLETED', 'Failed']) {
      const e = ok({ type: 'run_complete', data: { run_id: RUN, status, total_cost: 1.25 } })
      expect(e.payload).toEqual({ run_id: RUN, status: status.toLowerCase(), completed_at: null, error: null, total_cost: 1.25 })
    }
  })

  it('refuses another status', () => {
    expect(problem({ type: 'run_complete', data: { run_id: RUN, status: 'running' } }).message).toMatch(/^data\.status:/)
    expect(problem({ type: 'run_complete', data: { run_id: RUN } }).message).toMatch(/^data\.status:/)
  })
})

describe('normalizeEvent: log', () => {
  it('accepts the aliases warning → warn and critical → fatal, any case', () => {
    const level = (l: string) => ok({ type: 'log', data: { level: l, message: 'm' } }).payload
    expect(level('warning')).toMatchObject({ level: 'warn' })
    expect(level('CRITICAL')).toMatchObject({ level: 'fatal' })
    for (const l of ['debug', 'info', 'warn', 'error', 'fatal']) expect(level(l)).toMatchObject({ level: l })
    expect(problem({ type: 'log', data: { level: 'verbose', message: 'm' } }).message).toBe(
      'data.level: must be debug, info, warn (warning), error or fatal (critical)',
    )
  })

  // Regression: LEVEL_ALIASES['constructor'] is Object, so such a level passed and broke Avro encoding later.
  it('refuses Object.prototype names as levels', () => {
    for (const level of ['constructor', 'toString', '__proto__', 'valueOf']) {
      expect(problem({ type: 'log', data: { level, message: 'm' } })).toMatchObject({ kind: 'invalid', message: expect.stringMatching(/^data\.level:/) })
    }
  })

  it('fills defaults and takes the time from data.timestamp when the event has none', () => {
    const e = ok({ type: 'log', data: { level: 'info', message: 'hello', timestamp: '2026-11-22T00:00:00.000Z' } })
    expect(e).toEqual({
      id: 'server-made-id',
      project_id: 'project-1',
      type: 'log',
      timestamp: Date.UTC(2026, 10, 22),
      received_at: ctx.receivedAt,
      request_id: 'req-1',
      payload: { level: 'info', message: 'hello', service: null, attributes: {}, run_id: null },
    })
  })

  it('prefers the event timestamp over data.timestamp', () => {
    expect(ok({ type: 'log', timestamp: 5_000, data: { level: 'info', message: 'm', timestamp: 9_000 } }).timestamp).toBe(5_000)
  })

  it('accepts string, number and boolean attributes only', () => {
    const attributes = { region: 'eu', latency: 12.5, cached: false }
    expect(ok({ type: 'log', data: { level: 'info', message: 'm', attributes, run_id: RUN } }).payload).toMatchObject({ attributes, run_id: RUN })
    expect(problem({ type: 'log', data: { level: 'info', message: 'm', attributes: { nested: { a: 1 } } } }).message).toMatch(
      /^data\.attributes\.nested:/,
    )
    expect(problem({ type: 'log', data: { level: 'info', message: '' } }).message).toMatch(/^data\.message:/)
  })
})

describe('normalizeEvent: the envelope', () => {
  it('reports an unknown type as unknown_type', () => {
    expect(problem({ type: 'page_view', data: {} })).toEqual({
      kind: 'unknown_type',
      message: 'type must be one of run_start, step_complete, run_complete, log',
    })
  })

  // Regression: `type in dataByType` took inherited names for types and threw, failing the whole batch.
  it('treats Object.prototype names (toString, constructor, hasOwnProperty) as unknown types instead of throwing', () => {
    for (const type of ['toString', 'constructor', 'hasOwnProperty', '__proto__']) {
      expect(problem({ type, data: {} })).toMatchObject({ kind: 'unknown_type' })
    }
  })

  it('refuses what is not an event', () => {
    for (const raw of [null, 42, 'x', [], { type: 'log' }, { data: {} }, { type: 'log', data: [] }]) {
      expect(problem(raw).kind).toBe('invalid')
    }
    expect(problem({ id: 'abc', type: 'run_start', data: { run_id: RUN, name: 'r' } })).toEqual({ kind: 'invalid', message: 'id: Invalid GUID' })
  })
})

describe('normalizeEvent: limits of contract v2', () => {
  const base = { step_id: STEP, run_id: RUN, name: 's', type: 'llm' }

  it('accepts text of 900 KiB in message, reasoning, error and attribute values (the 64 KiB cap is gone)', () => {
    const big = 'x'.repeat(900 * 1024)
    expect(ok({ type: 'log', data: { level: 'info', message: big, attributes: { a: big } } }).payload).toMatchObject({ message: big, attributes: { a: big } })
    expect(ok({ type: 'step_complete', data: { ...base, reasoning: big, error: big } }).payload).toMatchObject({ reasoning: big, error: big })
  })

  it('still bounds names to 200 characters, tag values to 1,000 and maps to 200 keys', () => {
    expect(problem({ type: 'step_complete', data: { ...base, name: 'n'.repeat(201) } }).message).toMatch(/^data\.name:/)
    expect(problem({ type: 'run_start', data: { run_id: RUN, name: 'r', tags: { t: 'v'.repeat(1001) } } }).message).toMatch(/^data\.tags\.t:/)
    const keys = Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`k${i}`, 'v']))
    expect(problem({ type: 'run_start', data: { run_id: RUN, name: 'r', tags: keys } }).message).toMatch(/^data\.tags:/)
  })

  it('refuses a year-0 ISO timestamp (it was stored as another time)', () => {
    for (const t of ['0000-01-01T00:00:00Z', '1969-12-31T23:59:59.999Z', '2200-01-01T00:00:00Z', '2199-12-31T23:00:00-05:00']) {
      expect(problem({ type: 'log', timestamp: t, data: { level: 'info', message: 'm' } }).message).toMatch(/^timestamp:/)
      expect(problem({ type: 'run_start', data: { run_id: RUN, name: 'r', started_at: t } }).message).toMatch(/^data\.started_at:/)
    }
    expect(problem({ type: 'log', timestamp: -1, data: { level: 'info', message: 'm' } }).message).toMatch(/^timestamp:/)
    expect(ok({ type: 'log', timestamp: '2199-12-31T23:59:59.999Z', data: { level: 'info', message: 'm' } }).timestamp).toBe(Date.UTC(2199, 11, 31, 23, 59, 59, 999))
    expect(ok({ type: 'log', timestamp: '1970-01-01T00:00:00Z', data: { level: 'info', message: 'm' } }).timestamp).toBe(0)
  })
})
