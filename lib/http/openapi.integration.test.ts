import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { ingestRoutes } from '../../ingest/app.ts'
import { queryRoutes } from '../../query-api/app.ts'
import { testEnv } from '../../test/helpers/test-sluice.ts'
import { loadConfig } from '../config.ts'
import { createLogger } from '../logger.ts'
import { createMetrics } from '../metrics.ts'
import { closeServices, connectServices, type Services } from '../services.ts'
import { createRoleApp } from './create-role-app.ts'
import { openApiDocument } from './openapi.ts'

describe('the OpenAPI document', () => {
  let services: Services
  let app: FastifyInstance

  beforeAll(async () => {
    const config = loadConfig(testEnv())
    services = await connectServices(config, { logger: createLogger({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }) })
    app = await createRoleApp(services, [ingestRoutes, queryRoutes])
  })

  afterAll(async () => {
    await app?.close()
    if (services) await closeServices(services)
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
