import { existsSync, readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { buildAllRoutesApp } from './helpers/all-routes-app.ts'

// docs/api.md is the users' API reference; this test fails as soon as a route the server
// registers is missing from it, or it names a route the server does not have.
const DOC_URL = new URL('../docs/api.md', import.meta.url)
const doc = readFileSync(DOC_URL, 'utf8')

/** `GET /runs/:id` and `GET /runs/{run_id}` are the same route: parameter names do not matter. */
const normalize = (route: string) => route.replace(/:\w+|\{\w+\}/g, '{}')

/** Every `METHOD /path` written in backticks in the doc (a query string after the path is allowed). */
function documentedRoutes(): string[] {
  return [...doc.matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/[^\s`?]*)/g)].map((m) => `${m[1]} ${m[2]}`)
}

describe('docs/api.md', () => {
  let app: FastifyInstance
  let close: (() => Promise<void>) | undefined

  beforeAll(async () => {
    ;({ app, close } = await buildAllRoutesApp())
  })

  afterAll(async () => {
    await close?.()
  })

  it('finds routes on both sides', () => {
    expect(app.sluiceRoutes.length).toBeGreaterThanOrEqual(30)
    expect(documentedRoutes().length).toBeGreaterThanOrEqual(app.sluiceRoutes.length)
  })

  it('mentions every route the server registers, with its method', () => {
    const documented = new Set(documentedRoutes().map(normalize))
    const missing = app.sluiceRoutes.filter((r) => !documented.has(normalize(r)))
    expect(missing, 'routes registered but not in docs/api.md').toEqual([])
  })

  it('names no route the server does not register', () => {
    const registered = new Set(app.sluiceRoutes.map(normalize))
    const unknown = documentedRoutes().filter((r) => !registered.has(normalize(r)))
    expect([...new Set(unknown)], 'routes in docs/api.md that no app registers').toEqual([])
  })

  it('names every field and query parameter that /openapi.json (generated from the routes) describes', async () => {
    const openapi = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      components: { schemas: Record<string, unknown> }
      paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }> }>>
    }
    const fields = new Set<string>()
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk)
      if (node === null || typeof node !== 'object') return
      for (const [k, v] of Object.entries(node)) {
        if (k === 'properties') for (const name of Object.keys(v as object)) fields.add(name)
        if (k !== 'examples' && k !== 'example') walk(v)
      }
    }
    walk(openapi.components.schemas)
    const params = Object.values(openapi.paths).flatMap((ops) => Object.values(ops).flatMap((op) => (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name)))
    expect(fields.size).toBeGreaterThan(50)
    expect(params.length).toBeGreaterThan(20)
    // Field and parameter names are plain words: in backticks or quotes, or a query parameter.
    expect([...fields, ...params].filter((n) => !/^\w+$/.test(n))).toEqual([])
    const named = (name: string) => new RegExp(`[\`"?&]${name}[\`"=&\\s]`).test(doc)
    expect([...fields].filter((f) => !named(f)), 'fields of the document that docs/api.md never names').toEqual([])
    expect([...new Set(params)].filter((p) => !named(p)), 'query parameters that docs/api.md never names').toEqual([])
  })

  it('links only to files of the repository that exist', () => {
    const targets = [...doc.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!)
    expect(targets.length).toBeGreaterThan(0)
    const outside = targets.filter((t) => /^[a-z][a-z0-9+.-]*:/i.test(t) || t.startsWith('//'))
    expect(outside, 'links that leave the repository').toEqual([])
    const broken = targets.filter((t) => !t.startsWith('#') && !existsSync(new URL(t.split('#')[0]!, DOC_URL)))
    expect(broken, 'links to missing files').toEqual([])
  })

  it('lists only error codes lib/errors.ts defines', async () => {
    const errors = await import('../lib/errors.ts')
    const errorsDoc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8')
    const known = new Set(errorsDoc.match(/SLUICE_ERR_[A-Z0-9_]+/g) ?? [])
    for (const code of Object.values(errors.EVENT_ERROR_CODES)) known.add(code)
    const used = [...new Set(doc.match(/SLUICE_ERR_[A-Z0-9_]+/g) ?? [])]
    expect(used.filter((c) => !known.has(c))).toEqual([])
  })
})
