import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { buildAllRoutesApp } from '../../test/helpers/all-routes-app.ts'
import { createDocumentValidator, undocumented, type Media, type OpenApiDocument } from '../../test/helpers/document-validator.ts'
import { ADMIN_TOKEN } from '../../test/helpers/test-sluice.ts'
import { INGEST_EXAMPLE, LOGS_EXAMPLE } from './route-schemas/ingest-docs.ts'
import { REACTION_EXAMPLE } from './route-schemas/reactions-docs.ts'
import { isRouteDoc, toJsonSchema } from './zod-route-schema.ts'

// `/openapi.json` is generated from the routes' own zod schemas. These tests hold it to the routes
// (every route, request and response schema is in it), to itself (every example validates), and
// to the server (what the routes really answer validates against what the document says).

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }

/** Both sides of a comparison without what @fastify/swagger moves or respells on its way. */
function normalized(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(normalized)
  if (schema === null || typeof schema !== 'object') return schema
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'examples' || k === 'example') continue
    if (k === 'const') out.enum = [v]
    else out[k] = normalized(v)
  }
  return out
}

describe('the OpenAPI document', () => {
  let app: FastifyInstance
  let close: (() => Promise<void>) | undefined
  let doc: OpenApiDocument
  let validator: ReturnType<typeof createDocumentValidator>

  beforeAll(async () => {
    ;({ app, close } = await buildAllRoutesApp())
    const res = await app.inject({ method: 'GET', url: '/openapi.json' })
    expect(res.statusCode).toBe(200)
    doc = res.json()
    validator = createDocumentValidator(doc)
  })

  afterAll(async () => {
    await close?.()
  })

  it('is OpenAPI 3.1 and documents exactly the routes the all-in-one server serves', () => {
    expect(doc.openapi).toBe('3.1.0')
    const documented = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`))
      .sort()
    expect(documented.length).toBeGreaterThanOrEqual(30)
    expect([...app.sluiceRoutes].sort()).toEqual(documented)
  })

  it("holds every route's request and response schemas, as its zod schemas convert", () => {
    let checked = 0
    for (const route of app.sluiceRoutes) {
      if (route === 'GET /docs') continue // Swagger UI's page; its schema is documented by docs-routes.ts
      const schema = app.sluiceRouteSchemas.get(route)
      expect(isRouteDoc(schema), `${route} has a RouteDoc schema`).toBe(true)
      if (!isRouteDoc(schema)) continue
      const [method, url] = route.split(' ') as [string, string]
      const op = doc.paths[url.replace(/:(\w+)/g, '{$1}')]![method.toLowerCase()]!
      expect(op.summary, route).toBe(schema.summary)

      const query = schema.querystring ? (toJsonSchema(schema.querystring, 'input') as { properties: Record<string, unknown>; required?: string[] }) : undefined
      const queryParams = (op.parameters ?? []).filter((p) => p.in === 'query')
      expect(queryParams.map((p) => p.name).sort(), `${route} query parameters`).toEqual(Object.keys(query?.properties ?? {}).sort())
      for (const p of queryParams) {
        expect(p.required, `${route} ?${p.name} required`).toBe(query!.required?.includes(p.name) ?? false)
        expect(p.description, `${route} ?${p.name} is described`).toBe(schema.queryDescriptions?.[p.name])
        expect(p.description, `${route} ?${p.name} is described`).toBeTruthy()
        const { description: _d, ...expected } = query!.properties[p.name] as Record<string, unknown>
        expect(normalized(p.schema), `${route} ?${p.name}`).toEqual(normalized(expected))
      }

      if (schema.body) expect(normalized(op.requestBody?.content['application/json']?.schema), `${route} body`).toEqual(normalized(toJsonSchema(schema.body, 'input')))
      else expect(op.requestBody, `${route} has no body`).toBeUndefined()

      expect(Object.keys(op.responses).sort(), `${route} statuses`).toEqual(Object.keys(schema.response).sort())
      for (const [status, r] of Object.entries(schema.response)) {
        const documented = op.responses[status]!
        expect(documented.description, `${route} ${status}`).toBe(r.description)
        if (!r.body) {
          expect(documented.content, `${route} ${status} has no body`).toBeUndefined()
          continue
        }
        const media = documented.content?.[r.contentType ?? 'application/json']
        expect(normalized(media?.schema), `${route} ${status} body`).toEqual(normalized(toJsonSchema(r.body, 'output')))
        expect(Object.keys(documented.headers ?? {}), `${route} ${status} headers`).toEqual(Object.keys(r.headers ?? {}))
        checked++
      }
    }
    expect(checked).toBeGreaterThanOrEqual(60)
  })

  it('has examples, and every one validates against its schema', () => {
    const found: Array<{ where: string; schema: unknown; value: unknown }> = []
    const walk = (node: unknown, where: string): void => {
      if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${where}/${i}`))
      if (node === null || typeof node !== 'object') return
      const o = node as Record<string, unknown>
      // A schema's own examples (JSON Schema 2020-12's `examples` array)...
      if (Array.isArray(o.examples) && ('type' in o || 'anyOf' in o || 'oneOf' in o || '$ref' in o || 'properties' in o)) {
        o.examples.forEach((value, i) => found.push({ where: `${where}/examples/${i}`, schema: o, value }))
      }
      // ...and a media object's (`example`, or `examples` by name).
      if ('schema' in o && ('example' in o || (o.examples && !Array.isArray(o.examples)))) {
        const media = o as unknown as Media
        if ('example' in media) found.push({ where: `${where}/example`, schema: media.schema, value: media.example })
        for (const [name, e] of Object.entries(media.examples ?? {})) found.push({ where: `${where}/examples/${name}`, schema: media.schema, value: e.value })
      }
      for (const [k, v] of Object.entries(o)) walk(v, `${where}/${k}`)
    }
    walk(doc, '#')
    expect(found.length).toBeGreaterThanOrEqual(20)
    for (const e of found) expect(validator.errors(e.schema, e.value), e.where).toEqual([])
    // The request examples are among them.
    for (const request of ['/ingest/post/requestBody', '/api/logs/post/requestBody']) expect(found.some((e) => e.where.includes(request)), request).toBe(true)
  })

  it('refuses, with ajv, what does not fit (the examples check can fail)', () => {
    const run = doc.components.schemas.Run
    expect(validator.errors(run, { id: 'x' })).not.toEqual([])
    const body = doc.paths['/ingest']!.post!.requestBody!.content['application/json']!.schema
    expect(validator.errors(body, { events: [{ type: 'run_start', data: { name: 'no run id' } }] })).not.toEqual([])
  })

  describe('says what the routes really answer', () => {
    async function call(request: InjectOptions & { url: string; method: string }, status: number) {
      const res = await app.inject(request)
      expect(res.statusCode, `${request.method} ${request.url}: ${res.body.slice(0, 300)}`).toBe(status)
      const problems = undocumented(doc, validator, { method: request.method, url: request.url, status, contentType: res.headers['content-type'] as string | undefined, body: res.body })
      expect(problems, `${request.method} ${request.url}`).toEqual([])
      return res
    }

    it('for the documented request examples, which the routes accept', async () => {
      const project = (await call({ method: 'POST', url: '/api/projects', headers: admin, payload: { name: `doc-${randomUUID()}` } }, 201)).json()
      const ingest = { authorization: `Bearer ${project.ingest_key}` }
      const query = { authorization: `Bearer ${project.query_key}` }
      expect((await call({ method: 'POST', url: '/ingest', headers: ingest, payload: INGEST_EXAMPLE }, 200)).json()).toEqual({ status: 'ok', processed: 4 })
      expect((await call({ method: 'POST', url: '/api/logs', headers: ingest, payload: LOGS_EXAMPLE }, 200)).json()).toEqual({ status: 'ok', processed: 1 })
      await call({ method: 'POST', url: '/api/logs', headers: ingest, payload: { level: 'info', message: 'started' } }, 200)
      const reaction = (await call({ method: 'POST', url: '/api/reactions', headers: query, payload: REACTION_EXAMPLE }, 201)).json()
      await call({ method: 'PATCH', url: `/api/reactions/${reaction.id}`, headers: query, payload: { enabled: false } }, 200)
      await call({ method: 'GET', url: `/api/reactions/${project.id}`, headers: query }, 200)
      await call({ method: 'DELETE', url: `/api/reactions/${reaction.id}`, headers: query }, 204)
    })

    it('for every route family, errors included', async () => {
      const project = (await call({ method: 'POST', url: '/api/projects', headers: admin, payload: { name: `doc-${randomUUID()}` } }, 201)).json()
      const ingest = { authorization: `Bearer ${project.ingest_key}` }
      const query = { authorization: `Bearer ${project.query_key}` }
      const key = (await call({ method: 'POST', url: `/api/projects/${project.id}/keys`, headers: admin, payload: { kind: 'query', name: 'doc' } }, 201)).json()
      const unknown = randomUUID()
      const cases: Array<[InjectOptions & { url: string; method: string }, number]> = [
        [{ method: 'GET', url: '/api/projects?limit=1', headers: admin }, 200],
        [{ method: 'GET', url: `/api/projects/${project.id}/keys`, headers: admin }, 200],
        [{ method: 'GET', url: `/api/audit?project_id=${project.id}`, headers: admin }, 200],
        [{ method: 'GET', url: `/api/projects/${project.id}/audit`, headers: query }, 200],
        [{ method: 'DELETE', url: `/api/projects/${project.id}/keys/${key.id}`, headers: admin }, 204],
        [{ method: 'POST', url: '/ingest', headers: ingest, payload: { events: [INGEST_EXAMPLE.events[0], { type: 'nope', data: {} }] } }, 207],
        [{ method: 'POST', url: '/ingest', headers: ingest, payload: { events: [{ type: 'nope', data: {} }] } }, 400],
        [{ method: 'POST', url: '/ingest', headers: ingest, payload: { nothing: true } }, 400],
        [{ method: 'POST', url: '/ingest', headers: { ...ingest, 'content-type': 'text/plain' }, payload: 'x' }, 415],
        [{ method: 'GET', url: '/runs?status=completed', headers: query }, 200],
        [{ method: 'GET', url: '/runs?limit=0', headers: query }, 400],
        [{ method: 'GET', url: `/runs/${unknown}`, headers: query }, 404],
        [{ method: 'GET', url: `/runs/${unknown}/steps`, headers: query }, 404],
        [{ method: 'GET', url: `/analyze/${unknown}`, headers: query }, 404],
        [{ method: 'GET', url: '/pipelines/competitor-search/funnel', headers: query }, 200],
        [{ method: 'GET', url: '/api/logs?min_level=warn', headers: query }, 200],
        [{ method: 'GET', url: '/api/logs/stats?interval=1h', headers: query }, 200],
        [{ method: 'GET', url: `/api/complaints/${project.id}?status=open`, headers: query }, 200],
        [{ method: 'GET', url: `/api/complaints/${unknown}`, headers: query }, 404],
        [{ method: 'PATCH', url: `/api/complaints/${unknown}`, headers: query, payload: { status: 'resolved', extra: 1 } }, 400],
        [{ method: 'GET', url: `/api/complaints/${unknown}/deliveries`, headers: query }, 404],
        [{ method: 'GET', url: '/runs' }, 401],
        [{ method: 'GET', url: '/runs', headers: ingest }, 403],
        [{ method: 'GET', url: '/health' }, 200],
        [{ method: 'GET', url: '/metrics' }, 200],
        [{ method: 'GET', url: '/api/ops/lag', headers: admin }, 200],
        [{ method: 'GET', url: '/api/ops/dead-letters', headers: admin }, 200],
        [{ method: 'POST', url: '/api/ops/dead-letters/replay', headers: admin, payload: { ids: [unknown] } }, 404],
        [{ method: 'POST', url: '/api/ops/dead-letters/replay', headers: admin, payload: { every: true } }, 400],
        [{ method: 'GET', url: '/openapi.json' }, 200],
        [{ method: 'GET', url: '/docs' }, 200],
      ]
      for (const [request, status] of cases) await call(request, status)
      const ready = await app.inject({ method: 'GET', url: '/ready' })
      await call({ method: 'GET', url: '/ready' }, ready.statusCode)
    })
  })

  it('is browsable at /docs with Swagger UI, on this server only', async () => {
    const page = await app.inject({ method: 'GET', url: '/docs' })
    expect(page.statusCode).toBe(200)
    expect(page.headers['content-type']).toContain('text/html')
    const scripts = [...page.body.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]!)
    expect(scripts).toContain('/docs/static/swagger-ui-bundle.js')
    for (const src of [...scripts, '/docs/json']) {
      const asset = await app.inject({ method: 'GET', url: src })
      expect(asset.statusCode, src).toBe(200)
    }
    // Swagger UI shows the same generated document.
    expect((await app.inject({ method: 'GET', url: '/docs/json' })).json()).toEqual(doc)
  })
})
