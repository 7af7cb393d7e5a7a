import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestSluice, ADMIN_TOKEN, type TestProject, type TestSluice } from './helpers/test-sluice.ts'
import { topicEvents } from './helpers/topic-events.ts'

// The input edges of contract v2 ("Limits and edge cases", "HTTP hygiene"), each once a 500, a
// silent change of what was sent, or a refusal of a valid request.

const nested = (levels: number): unknown => {
  let v: unknown = 'leaf'
  for (let i = 0; i < levels; i++) v = { n: v }
  return v
}
const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const log = (data: Record<string, unknown>) => ({ id: randomUUID(), type: 'log', data: { level: 'info', message: 'm', ...data } })

describe('input edges (contract v2)', () => {
  let sluice: TestSluice
  let project: TestProject
  const ingest = (events: unknown[]) => sluice.post<{ processed: number; errors?: Array<{ index: number; code: string; message: string }> }>('/ingest', { key: project.ingest_key, body: { events } })
  const query = (path: string) => sluice.get<{ code: string; message: string }>(path, { key: project.query_key })

  beforeAll(async () => {
    sluice = await startTestSluice()
    project = await sluice.createProject()
  })
  afterAll(async () => {
    await sluice?.close()
  })

  it('an event nested deeper than 64 levels is a per-event error, the valid one beside it is accepted (deep JSON was a 500)', async () => {
    const ok = log({})
    for (const levels of [63, 10_000]) {
      // Written out by hand: JSON.stringify itself overflows the stack on 10,000 levels.
      const deep = `{"type":"log","data":{"level":"info","message":"deep","extra":${'{"n":'.repeat(levels)}1${'}'.repeat(levels)}}}`
      const rawBody = `{"events":[${JSON.stringify(ok)},${deep}]}`
      const res = await sluice.post<{ processed: number; errors?: unknown[] }>('/ingest', { key: project.ingest_key, rawBody, headers: { 'content-type': 'application/json' } })
      expect(res.status, JSON.stringify(res.body)).toBe(207)
      expect(res.body.processed).toBe(1)
      expect(res.body.errors).toEqual([expect.objectContaining({ index: 1, code: 'SLUICE_ERR_INVALID_EVENT', message: expect.stringMatching(/nests deeper than 64 levels/) })])
    }
    // Exactly 64 levels: the event, data, then 62 objects from inputs down.
    const step = { id: randomUUID(), type: 'step_complete', data: { step_id: randomUUID(), run_id: randomUUID(), name: 's', type: 'llm', inputs: nested(62) } }
    expect((await ingest([step])).status).toBe(200)
  })

  it('NUL and lone surrogates are stored as U+FFFD, in the topic and in what the API returns', async () => {
    const event = log({ message: 'a\u0000b\uD800c', service: 'svc\uDC00', attributes: { 'k\u0000': 'v\u0000' } })
    const step = {
      id: randomUUID(),
      type: 'step_complete',
      data: { step_id: randomUUID(), run_id: randomUUID(), name: 'n\u0000', type: 'llm', inputs: { 'x\u0000': ['\uD800'] }, reasoning: '\u0000' },
    }
    const res = await ingest([event, step])
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    const stored = await topicEvents(sluice.config, [event.id, step.id])
    expect(stored.get(event.id)!.payload).toMatchObject({ message: 'a\uFFFDb\uFFFDc', service: 'svc\uFFFD', attributes: { 'k\uFFFD': 'v\uFFFD' } })
    expect(stored.get(step.id)!.payload).toMatchObject({ name: 'n\uFFFD', inputs: JSON.stringify({ 'x\uFFFD': ['\uFFFD'] }), reasoning: '\uFFFD' })
    await sluice.waitUntilProcessed()
    const logs = await sluice.get<Array<{ id: string; message: string }>>('/api/logs?service=svc%EF%BF%BD', { key: project.query_key })
    expect(logs.body.map((l) => [l.id, l.message])).toEqual([[event.id, 'a\uFFFDb\uFFFDc']])
  })

  it('a timestamp in year 0 is a per-event error (it was stored as 2026-01-01)', async () => {
    const ok = log({})
    const res = await ingest([ok, { ...log({}), timestamp: '0000-01-01T00:00:00Z' }, log({ timestamp: '2200-01-01T00:00:00Z' })])
    expect(res.status).toBe(207)
    expect(res.body.errors?.map((e) => [e.index, e.code, e.message])).toEqual([
      [1, 'SLUICE_ERR_INVALID_EVENT', 'timestamp: must be between 1970-01-01 and 2199-12-31'],
      [2, 'SLUICE_ERR_INVALID_EVENT', 'data.timestamp: must be between 1970-01-01 and 2199-12-31'],
    ])
  })

  it('a log message of 900 KiB is accepted and read back whole (64 KiB was the cap)', async () => {
    const service = `big-${randomUUID().slice(0, 8)}`
    const message = 'z'.repeat(900 * 1024)
    const res = await sluice.post('/api/logs', { key: project.ingest_key, body: { level: 'error', message, service } })
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200)
    await sluice.waitUntilProcessed()
    const logs = await query(`/api/logs?service=${service}`)
    expect((logs.body as unknown as Array<{ message: string }>).map((l) => l.message.length)).toEqual([message.length])
  })

  it('management routes refuse NUL, lone surrogates and deep values with 400 (they were 500s)', async () => {
    const reaction = { name: 'r', event_type: 'log' }
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/api/projects', { name: 'shop\u0000' }, ADMIN_TOKEN],
      ['POST', '/api/projects', { name: 'shop\uD800' }, ADMIN_TOKEN],
      ['POST', '/api/reactions', { ...reaction, name: 'r\u0000' }, project.query_key],
      ['POST', '/api/reactions', { ...reaction, conditions: [{ field: 'message', op: 'eq', value: 'x\u0000' }] }, project.query_key],
      ['POST', '/api/reactions', { ...reaction, conditions: [{ field: 'message', op: 'eq', value: nested(100) }] }, project.query_key],
      ['POST', '/api/reactions', { ...reaction, actions: [{ type: 'webhook', url: 'https://example.com/\u0000', secret: 'secret\u0000\u0000' }] }, project.query_key],
      ['PATCH', `/api/complaints/${randomUUID()}`, { status: 'resolved', note: 'n\uDFFF' }, project.query_key],
    ]
    for (const [method, path, body, key] of cases) {
      const res = await sluice.request<{ code: string }>(method, path, { key, body })
      expect([method, path, res.status, res.body.code]).toEqual([method, path, 400, 'SLUICE_ERR_VALIDATION'])
    }
  })

  it('query bounds outside 1970 … 2199 are 400 on every route that takes them (a funnel bound in year 0 was a 500)', async () => {
    for (const path of [
      '/pipelines/p/funnel?from=0000-01-01',
      '/pipelines/p/funnel?to=2200-01-01T00:00:00Z',
      '/runs?from=0000-01-01T00:00:00Z',
      '/api/logs?to=999999999999999',
      '/api/logs/stats?from=0001-01-01',
    ]) {
      const res = await query(path)
      expect([path, res.status, res.body.code]).toEqual([path, 400, 'SLUICE_ERR_VALIDATION'])
    }
  })

  it('a cursor Sluice did not issue is 400 SLUICE_ERR_INVALID_CURSOR on every list (reactions and complaints were 500s)', async () => {
    // The last one has the very shape of a real cursor, but Sluice did not sign it.
    const forged = [cursorOf(['x', 'y']), cursorOf([1, 2]), cursorOf(['2026-01-01T00:00:00.000Z', 'not-a-uuid']), cursorOf([-1e300, randomUUID()]), 'garbage!', cursorOf(-5), cursorOf([Date.now(), randomUUID()]), cursorOf(['2026-01-01T00:00:00.000Z', randomUUID()]), cursorOf(100)]
    const lists = ['/runs', `/runs/${randomUUID()}/steps`, '/api/logs', `/api/reactions/${project.id}`, `/api/complaints/${project.id}`, `/api/complaints/${randomUUID()}/deliveries`]
    for (const list of lists) {
      for (const cursor of forged) {
        const res = await query(`${list}?cursor=${encodeURIComponent(cursor)}`)
        expect([list, cursor, res.status, res.body.code]).toEqual([list, cursor, 400, 'SLUICE_ERR_INVALID_CURSOR'])
      }
    }
  })

  it('a method a path does not serve is 405 with Allow; an unknown path stays 404 (both were 404)', async () => {
    const cases: Array<[string, string, string]> = [
      ['DELETE', '/ingest', 'POST'],
      ['PUT', `/runs/${randomUUID()}`, 'GET, HEAD'],
      ['GET', '/api/reactions', 'POST'],
      ['POST', '/health', 'GET, HEAD'],
    ]
    for (const [method, path, allow] of cases) {
      const res = await sluice.request<{ code: string; statusCode: number; error: string }>(method, path, { key: project.query_key })
      expect([method, path, res.status, res.headers.get('allow'), res.body.code, res.body.error]).toEqual([method, path, 405, allow, 'SLUICE_ERR_METHOD_NOT_ALLOWED', 'Method Not Allowed'])
    }
    const unknown = await sluice.request<{ code: string }>('GET', '/no/such/path')
    expect([unknown.status, unknown.body.code]).toEqual([404, 'SLUICE_ERR_ROUTE_NOT_FOUND'])
  })
})
