import { describe, expect, it } from 'vitest'
import { asRecord, errorText, isoTime, MAX_TEXT_CHARS, safeJson, truncateText } from './encode.ts'

describe('encode', () => {
  it('isoTime: UTC with milliseconds, fractions of a millisecond dropped', () => {
    expect(isoTime(Date.UTC(2026, 10, 22, 1, 2, 3, 456) + 0.9)).toBe('2026-11-22T01:02:03.456Z')
  })

  it('truncateText counts code points, not UTF-16 units', () => {
    const emoji = '😀'.repeat(MAX_TEXT_CHARS + 1)
    expect(Array.from(truncateText(emoji))).toHaveLength(MAX_TEXT_CHARS)
    const fits = '😀'.repeat(MAX_TEXT_CHARS)
    expect(truncateText(fits)).toBe(fits)
  })

  it('errorText: the message, else the class name', () => {
    class QuotaError extends Error {}
    expect(errorText(new QuotaError('over quota'))).toBe('over quota')
    expect(errorText(new QuotaError())).toBe('QuotaError')
    expect(errorText(42)).toBe('42')
    expect(errorText(Object.create(null))).toBe('Error')
  })

  it('asRecord wraps what is not a plain object', () => {
    expect([asRecord({ a: 1 }), asRecord([1]), asRecord('s'), asRecord(null)]).toEqual([{ a: 1 }, { value: [1] }, { value: 's' }, { value: null }])
  })

  it('safeJson never throws', () => {
    const a: Record<string, unknown> = { when: new Date(0) }
    a.me = { back: a }
    expect(JSON.parse(safeJson(a))).toEqual({ when: '1970-01-01T00:00:00.000Z', me: { back: '[Circular]' } })
    expect(safeJson({ n: 1n, nan: NaN })).toBe('{"n":"1","nan":null}')
    const bad = { toJSON: () => { throw new Error('no') } }
    expect(safeJson({ bad, x: 1n })).toBe('{"bad":"[Unserializable]","x":"1"}')
  })
})
