import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { buildAllRoutesApp } from '../../test/helpers/all-routes-app.ts'
import { openApiDocument } from './openapi.ts'

describe('the OpenAPI document', () => {
  let app: FastifyInstance
  let close: (() => Promise<void>) | undefined

  beforeAll(async () => {
    ;({ app, close } = await buildAllRoutesApp())
  })

  afterAll(async () => {
    await close?.()
  })

  it('documents exactly the routes the all-in-one server serves', () => {
    const documented = Object.entries(openApiDocument.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`))
      .sort()
    expect([...app.sluiceRoutes].sort()).toEqual(documented)
  })

  it('is served at /openapi.json and listed at /docs', async () => {
    const doc = await app.inject({ method: 'GET', url: '/openapi.json' })
    expect(doc.statusCode).toBe(200)
    expect(doc.json().openapi).toBe('3.1.0')
    const page = await app.inject({ method: 'GET', url: '/docs' })
    expect(page.statusCode).toBe(200)
    expect(page.headers['content-type']).toContain('text/html')
    expect(page.body).toContain('/pipelines/{name}/funnel')
  })
})
