import { performance } from 'node:perf_hooks'
import { describe, expect, it } from 'vitest'
import { compileConditions, ConditionError, type Condition } from './conditions.ts'

const view = {
  level: 'error',
  message: 'Payment TIMEOUT at gateway',
  service: 'checkout',
  attributes: { region: 'eu', attempt: 3, cached: false, tags: ['a', 'b'] },
  input_count: 10,
  drop_rate: 0.8,
  run_id: null,
}

const holds = (c: Condition) => compileConditions([c])(view)

describe('conditions', () => {
  it('evaluates every op on dot paths', () => {
    expect(holds({ field: 'level', op: 'eq', value: 'error' })).toBe(true)
    expect(holds({ field: 'attributes.attempt', op: 'eq', value: '3' })).toBe(true)
    expect(holds({ field: 'level', op: 'neq', value: 'error' })).toBe(false)
    expect(holds({ field: 'level', op: 'in', value: ['error', 'fatal'] })).toBe(true)
    expect(holds({ field: 'attributes.region', op: 'nin', value: ['us'] })).toBe(true)
    expect(holds({ field: 'message', op: 'contains', value: 'TIMEOUT' })).toBe(true)
    expect(holds({ field: 'message', op: 'contains', value: 'timeout' })).toBe(false)
    expect(holds({ field: 'attributes.tags', op: 'contains', value: 'b' })).toBe(true)
    expect(holds({ field: 'message', op: 'not_contains', value: 'refused' })).toBe(true)
    expect(holds({ field: 'service', op: 'starts_with', value: 'check' })).toBe(true)
    expect(holds({ field: 'drop_rate', op: 'gt', value: 0.5 })).toBe(true)
    expect(holds({ field: 'drop_rate', op: 'gte', value: 0.8 })).toBe(true)
    expect(holds({ field: 'input_count', op: 'lt', value: 10 })).toBe(false)
    expect(holds({ field: 'input_count', op: 'lte', value: 10 })).toBe(true)
    expect(holds({ field: 'level', op: 'gt', value: 1 })).toBe(false)
    expect(holds({ field: 'attributes.region', op: 'exists' })).toBe(true)
    expect(holds({ field: 'run_id', op: 'exists' })).toBe(false)
    expect(holds({ field: 'attributes.missing.deeper', op: 'exists', value: false })).toBe(true)
    expect(holds({ field: 'message', op: 'matches', value: '(?i)payment\\s+timeout' })).toBe(true)
    expect(holds({ field: 'attributes.attempt', op: 'matches', value: '3' })).toBe(false)
  })

  it('requires every condition, and an empty list matches everything', () => {
    expect(compileConditions([])(view)).toBe(true)
    expect(compileConditions([{ field: 'level', op: 'eq', value: 'error' }, { field: 'service', op: 'eq', value: 'search' }])(view)).toBe(false)
  })

  it('does not read inherited properties through a path', () => {
    expect(holds({ field: 'attributes.constructor', op: 'exists' })).toBe(false)
    expect(holds({ field: 'message.length', op: 'gt', value: 0 })).toBe(false)
  })

  it('refuses patterns that cannot run in linear time, naming the condition', () => {
    expect(() => compileConditions([{ field: 'level', op: 'eq', value: 'x' }, { field: 'message', op: 'matches', value: '(a)\\1' }])).toThrow(
      new ConditionError(1, 'x').message.slice(0, 'conditions[1]'.length),
    )
    for (const pattern of ['(?=a)b', '(?!a)b', '(?<=a)b', 'a++', '(']) {
      expect(() => compileConditions([{ field: 'message', op: 'matches', value: pattern }])).toThrow(ConditionError)
    }
    expect(() => compileConditions([{ field: 'message', op: 'matches', value: 'x'.repeat(1001) }])).toThrow(/longer than 1000/)
  })

  it('refuses values of the wrong kind for an op', () => {
    expect(() => compileConditions([{ field: 'a', op: 'in', value: 'x' }])).toThrow(ConditionError)
    expect(() => compileConditions([{ field: 'a', op: 'gt', value: '5' }])).toThrow(ConditionError)
    expect(() => compileConditions([{ field: 'a', op: 'exists', value: 'yes' }])).toThrow(ConditionError)
  })

  it('evaluates (a+)+$ against 100 KB in under 10 ms (RE2: no backtracking)', () => {
    const test = compileConditions([{ field: 'message', op: 'matches', value: '(a+)+$' }])
    const evil = { message: `${'a'.repeat(100_000)}!` }
    // The first runs pay for V8's JIT and the lazily built DFA; the figure is the median after that.
    for (let i = 0; i < 5; i++) test(evil)
    const times: number[] = []
    for (let i = 0; i < 9; i++) {
      const t = performance.now()
      expect(test(evil)).toBe(false)
      times.push(performance.now() - t)
    }
    times.sort((a, b) => a - b)
    expect(times[4]!).toBeLessThan(10)
    expect(test({ message: 'a'.repeat(100_000) })).toBe(true)
  })
})
