import { describe, expect, it } from 'vitest'
import { guardJson, hasUnstorableText, storableText } from './json-guard.ts'

const nested = (levels: number): unknown => {
  let v: unknown = 1
  for (let i = 0; i < levels; i++) v = i % 2 ? [v] : { a: v }
  return v
}

describe('storableText', () => {
  it('replaces NUL and lone surrogates with U+FFFD and keeps pairs', () => {
    expect(storableText('a\u0000b')).toBe('a\uFFFDb')
    expect(storableText('x\uD800')).toBe('x\uFFFD')
    expect(storableText('\uDC00y')).toBe('\uFFFDy')
    expect(storableText('\uDC00\uD800')).toBe('\uFFFD\uFFFD')
    expect(storableText('ok \uD83D\uDE00')).toBe('ok \uD83D\uDE00')
    expect(hasUnstorableText('plain')).toBe(false)
  })
})

describe('guardJson', () => {
  it('allows 64 levels and refuses 65, however deep, without overflowing the stack', () => {
    expect(guardJson(nested(64), { repair: false })).toBeNull()
    expect(guardJson(nested(65), { repair: false })).toMatchObject({ kind: 'too_deep' })
    expect(guardJson(nested(200_000), { repair: true })).toMatchObject({ kind: 'too_deep' })
  })

  it('repairs keys and values in place', () => {
    const value = { 'k\u0000': ['v\uD800', { n: 'ok' }], m: 'x\u0000' }
    expect(guardJson(value, { repair: true })).toBeNull()
    expect(value).toEqual({ 'k\uFFFD': ['v\uFFFD', { n: 'ok' }], m: 'x\uFFFD' })
  })

  it('reports the path of the first unstorable string when not repairing', () => {
    expect(guardJson({ a: { b: ['ok', 'no\u0000'] } }, { repair: false })).toEqual({ kind: 'unstorable_text', path: 'a.b.1' })
    expect(guardJson('\uD800', { repair: false })).toEqual({ kind: 'unstorable_text', path: '(root)' })
  })
})
