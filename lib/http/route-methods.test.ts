import { describe, expect, it } from 'vitest'
import { createRouteMethods } from './route-methods.ts'

describe('createRouteMethods', () => {
  const methods = createRouteMethods()
  methods.add(['GET', 'HEAD'], '/runs/:id')
  methods.add('DELETE', '/runs/:id')
  methods.add('POST', '/ingest')
  methods.add('GET', '/docs/*')
  methods.add('OPTIONS', '*')

  it('lists the methods of every route matching the path, sorted', () => {
    expect(methods.allowed('/runs/abc')).toEqual(['DELETE', 'GET', 'HEAD'])
    expect(methods.allowed('/ingest')).toEqual(['POST'])
    expect(methods.allowed('/docs/a/b.css')).toEqual(['GET'])
  })

  it('knows no path from a catch-all route, nor a parameter spanning segments', () => {
    expect(methods.allowed('/nope')).toEqual([])
    expect(methods.allowed('/runs/a/b')).toEqual([])
    expect(methods.allowed('/runs/')).toEqual([])
    expect(methods.allowed('/ingestx')).toEqual([])
  })
})
