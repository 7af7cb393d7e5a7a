import { randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { INGEST_EXAMPLE } from '../lib/http/route-schemas/ingest-docs.ts'
import { createDocumentValidator, undocumented, type OpenApiDocument } from './helpers/document-validator.ts'
import { ADMIN_TOKEN, startTestSluice, type TestProject, type TestSluice } from './helpers/test-sluice.ts'
import { waitFor } from './helpers/wait-for.ts'

// The document's response schemas held against what a whole Sluice (processors included) answers
// once the documented example batch went through it: runs, steps, funnels, logs, complaints and
// deliveries with real rows, not empty lists. lib/http/openapi.integration.test.ts does the same
// for the routes that need no processor.

/** The example batch with fresh ids, so that no earlier test's copy is taken for a resend. */
function freshExample(): typeof INGEST_EXAMPLE {
  const ids = new Map<string, string>()
  const json = JSON.stringify(INGEST_EXAMPLE).replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, (id) => {
    if (!ids.has(id)) ids.set(id, randomUUID())
    return ids.get(id)!
  })
  return JSON.parse(json)
}

describe('the OpenAPI document, against a whole Sluice', () => {
  let sluice: TestSluice
  let receiver: Server
  let doc: OpenApiDocument
  let validator: ReturnType<typeof createDocumentValidator>

  beforeAll(async () => {
    receiver = createServer((_req, res) => res.end('ok'))
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    sluice = await startTestSluice()
    doc = (await sluice.get<OpenApiDocument>('/openapi.json')).body
    validator = createDocumentValidator(doc)
  })

  afterAll(async () => {
    await sluice?.close()
    await new Promise((resolve) => receiver?.close(resolve))
  })

  /** GETs (or sends) `path` and expects `status` and a body the document describes. */
  async function documented<T>(method: string, path: string, o: { key: string; body?: unknown }, status = 200): Promise<T> {
    const res = await fetch(`${sluice.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${o.key}`, ...(o.body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
    })
    const body = await res.text()
    expect(res.status, `${method} ${path}: ${body.slice(0, 300)}`).toBe(status)
    expect(undocumented(doc, validator, { method, url: path, status, contentType: res.headers.get('content-type') ?? undefined, body }), `${method} ${path}`).toEqual([])
    return (body ? JSON.parse(body) : undefined) as T
  }

  it('describes the runs, steps, funnels, logs, complaints and deliveries the example batch makes', async () => {
    const project: TestProject = await sluice.createProject()
    const query = { key: project.query_key }
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`
    await documented('POST', '/api/reactions', {
      ...query,
      body: { name: 'slow price feed', event_type: 'log', conditions: [{ field: 'level', op: 'eq', value: 'warn' }], actions: [{ type: 'complaint' }, { type: 'webhook', url }] },
    }, 201)
    const batch = freshExample()
    expect(await documented('POST', '/ingest', { key: project.ingest_key, body: batch })).toEqual({ status: 'ok', processed: 4 })
    await sluice.waitUntilProcessed()

    const runId = (batch.events[0]!.data as { run_id: string }).run_id
    const runs = await documented<unknown[]>('GET', '/runs', query)
    expect(runs).toHaveLength(1)
    expect(await documented<{ status: string }>('GET', `/runs/${runId}`, query)).toMatchObject({ status: 'COMPLETED', step_count: 1 })
    expect(await documented<unknown[]>('GET', `/runs/${runId}/steps`, query)).toHaveLength(1)
    expect(await documented('GET', `/analyze/${runId}`, query)).toMatchObject({ summary: { initial_count: 120, final_count: 30 } })
    expect(await documented<unknown[]>('GET', '/pipelines/competitor-search/funnel', query)).toHaveLength(1)
    expect(await documented<unknown[]>('GET', '/api/logs', query)).toHaveLength(1)
    expect((await documented<unknown[]>('GET', '/api/logs/stats?interval=1h', query)).length).toBeGreaterThan(0)

    const complaints = await waitFor(async () => {
      const list = await documented<Array<{ id: string }>>('GET', `/api/complaints/${project.id}`, query)
      return list.length > 0 ? list : null
    })
    const complaintId = complaints[0]!.id
    await documented('GET', `/api/complaints/${complaintId}`, query)
    await documented('PATCH', `/api/complaints/${complaintId}`, { ...query, body: { status: 'acknowledged', note: 'looking' } })
    const deliveries = await waitFor(async () => {
      const list = await documented<Array<{ status: string }>>('GET', `/api/complaints/${complaintId}/deliveries`, query)
      return list.some((d) => d.status === 'succeeded') ? list : null
    })
    expect(deliveries).toHaveLength(1)
    expect((await documented<unknown[]>('GET', `/api/projects/${project.id}/audit`, query)).length).toBeGreaterThanOrEqual(3)

    const ready = await documented<{ processors: unknown[] }>('GET', '/ready', { key: ADMIN_TOKEN })
    expect(ready.processors.length).toBeGreaterThan(0)
    expect((await documented<unknown[]>('GET', '/api/ops/lag', { key: ADMIN_TOKEN })).length).toBeGreaterThan(0)
  })
})
