import { randomUUID } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_TOKEN, startTestSluice, type HttpResult, type TestProject, type TestSluice } from '../test/helpers/test-sluice.ts'
import { testServices } from '../test/helpers/services.ts'

// POST /ingest against a real Sluice (real Kafka, Postgres, Redis): every row of the contract's
// Ingest table, the bad inputs around it, auth, and the operations routes. After every refusal the
// server must still be healthy and still take a good batch.

interface ErrorBody {
  statusCode: number
  error: string
  code: string
  message: string
  errors?: Array<{ index: number; id: string | null; code: string; message: string }>
}

const runStart = () => ({
  id: randomUUID(),
  type: 'run_start',
  timestamp: new Date().toISOString(),
  data: { run_id: randomUUID(), name: 'recs', tags: { env: 'test' } },
})
const goodEvents = (n: number) => Array.from({ length: n }, () => runStart())

/** The contract's error shape, exactly. */
function expectError(res: HttpResult, status: number, code: string, message?: string | RegExp) {
  const body = res.body as ErrorBody
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  expect(Object.keys(body).sort()).toEqual(['code', 'error', 'message', 'statusCode', ...(body.errors ? ['errors'] : [])].sort())
  expect(body).toMatchObject({ statusCode: status, code, error: expect.any(String), message: expect.any(String) })
  expect(body.error).not.toBe('Error')
  if (message !== undefined) expect(body.message).toMatch(message)
  return body
}

async function expectStillServing(sluice: TestSluice, project: TestProject) {
  const health = await sluice.get('/health')
  expect(health.status).toBe(200)
  expect(health.body).toEqual({ status: 'ok', version: { sluice: expect.any(String), node: process.version } })
  const good = await sluice.post('/ingest', { key: project.ingest_key, body: { events: goodEvents(2) } })
  expect(good.status, JSON.stringify(good.body)).toBe(200)
  expect(good.body).toEqual({ status: 'ok', processed: 2 })
}

function chunkedBody(json: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(json)
  return new ReadableStream({
    start(controller) {
      for (let i = 0; i < bytes.length; i += 1024) controller.enqueue(bytes.subarray(i, i + 1024))
      controller.close()
    },
  })
}

// One Sluice with the default limits serves the contract, auth and operations tests.
describe('an ingest Sluice with the default limits', () => {
  let sluice: TestSluice
  let project: TestProject

  beforeAll(async () => {
    sluice = await startTestSluice({ roles: ['ingest'] })
    project = await sluice.createProject()
  })
  afterAll(async () => {
    await sluice?.close()
  })

  describe('POST /ingest: the contract table', () => {
    afterEach(async () => {
      await expectStillServing(sluice, project)
    })

    const ingest = (o: Parameters<TestSluice['post']>[1] = {}) => sluice.post('/ingest', { key: project.ingest_key, ...o })

    it('200 when every event is valid; the same batch resent is 200 with the same count', async () => {
      const step = {
        id: randomUUID(),
        type: 'step_complete',
        data: { step_id: randomUUID(), run_id: randomUUID(), name: 'rank', type: 'llm', inputs: { q: 'x' }, input_count: 5, output_count: 2 },
      }
      const events = [
        runStart(),
        step,
        { id: randomUUID(), type: 'run_complete', timestamp: Date.now(), data: { run_id: randomUUID(), status: 'COMPLETED' } },
        { id: randomUUID(), type: 'log', data: { level: 'warning', message: 'slow', attributes: { ms: 900 } } },
        { type: 'log', data: { level: 'info', message: 'no id: the server makes one' } },
      ]
      const first = await ingest({ body: { events } })
      expect(first.status).toBe(200)
      expect(first.body).toEqual({ status: 'ok', processed: 5 })
      const again = await ingest({ body: { events } })
      expect(again.status).toBe(200)
      expect(again.body).toEqual({ status: 'ok', processed: 5 })
    })

    it('accepts application/json with a charset', async () => {
      const res = await ingest({ rawBody: JSON.stringify({ events: goodEvents(1) }), headers: { 'content-type': 'application/json; charset=utf-8' } })
      expect(res.body).toEqual({ status: 'ok', processed: 1 })
    })

    it('400 SLUICE_ERR_INVALID_JSON for malformed or empty JSON', async () => {
      const json = { 'content-type': 'application/json' }
      expectError(await ingest({ rawBody: '{"events": [', headers: json }), 400, 'SLUICE_ERR_INVALID_JSON', /^Body is not valid JSON: /)
      expectError(await ingest({ rawBody: "{'events': []}", headers: json }), 400, 'SLUICE_ERR_INVALID_JSON')
      expectError(await ingest({ rawBody: '', headers: json }), 400, 'SLUICE_ERR_INVALID_JSON')
    })

    it('400 SLUICE_ERR_INVALID_BODY when the body is not an object with an events array', async () => {
      for (const body of [[goodEvents(1)], 'events', 42, null, {}, { events: {} }, { events: 'x' }, { event: goodEvents(1) }]) {
        expectError(await ingest({ body }), 400, 'SLUICE_ERR_INVALID_BODY', 'Body must be an object with an "events" array')
      }
    })

    it('400 SLUICE_ERR_EMPTY_BATCH for {"events": []}', async () => {
      expectError(await ingest({ body: { events: [] } }), 400, 'SLUICE_ERR_EMPTY_BATCH', 'The batch has no events')
    })

    it('400 SLUICE_ERR_FORBIDDEN_PROPERTY for __proto__ at any depth and constructor.prototype', async () => {
      const event = JSON.stringify(runStart())
      const bodies = [
        `{"__proto__": {"polluted": true}, "events": [${event}]}`,
        `{"events": [{"type": "log", "data": {"level": "info", "message": "m", "attributes": {"__proto__": {"polluted": true}}}}]}`,
        `{"events": [${event}, {"type": "run_start", "__proto__": null, "data": {}}]}`,
        `{"events": [{"type": "log", "data": {"level": "info", "message": "m", "constructor": {"prototype": {"polluted": true}}}}]}`,
      ]
      for (const rawBody of bodies) {
        expectError(await ingest({ rawBody, headers: { 'content-type': 'application/json' } }), 400, 'SLUICE_ERR_FORBIDDEN_PROPERTY')
      }
      expectError(await ingest({ rawBody: bodies[1], gzip: true, headers: { 'content-type': 'application/json' } }), 400, 'SLUICE_ERR_FORBIDDEN_PROPERTY')
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    })

    it('207 naming exactly the invalid events; processed counts the valid ones', async () => {
      const good = goodEvents(3)
      const events = [
        good[0],
        { id: randomUUID(), type: 'page_view', data: {} },
        good[1],
        { ...runStart(), id: 'not-a-uuid' },
        { id: randomUUID(), type: 'run_start', data: { run_id: randomUUID() } },
        { id: randomUUID(), type: 'step_complete', data: { step_id: randomUUID(), run_id: randomUUID(), name: 's', type: 'filter', input_count: -1 } },
        good[2],
      ]
      const res = await ingest({ body: { events } })
      expect(res.status).toBe(207)
      expect(res.body).toEqual({
        status: 'partial',
        processed: 3,
        errors: [
          { index: 1, id: events[1]!.id, code: 'SLUICE_ERR_UNKNOWN_EVENT_TYPE', message: 'type must be one of run_start, step_complete, run_complete, log' },
          { index: 3, id: 'not-a-uuid', code: 'SLUICE_ERR_INVALID_EVENT', message: 'id: Invalid GUID' },
          { index: 4, id: events[4]!.id, code: 'SLUICE_ERR_INVALID_EVENT', message: expect.stringMatching(/^data\.name: /) },
          { index: 5, id: events[5]!.id, code: 'SLUICE_ERR_INVALID_EVENT', message: expect.stringMatching(/^data\.input_count: /) },
        ],
      })
    })

    // Regression: `type in dataByType` was true for "toString", whose schema lookup threw: 500 for the batch.
    it('207, not 500, for an event whose type is an Object.prototype name', async () => {
      const res = await ingest({ body: { events: [runStart(), { type: 'toString', data: {} }, { type: 'log', data: { level: 'constructor', message: 'm' } }] } })
      expect(res.status).toBe(207)
      expect(res.body).toMatchObject({
        processed: 1,
        errors: [
          { index: 1, id: null, code: 'SLUICE_ERR_UNKNOWN_EVENT_TYPE' },
          { index: 2, id: null, code: 'SLUICE_ERR_INVALID_EVENT' },
        ],
      })
    })

    it('400 SLUICE_ERR_NO_VALID_EVENTS with the errors array when no event is valid', async () => {
      const res = await ingest({ body: { events: [{ type: 'nope', data: {} }, 'not an object', { type: 'run_start', data: { run_id: 'x', name: 'r' } }] } })
      const body = expectError(res, 400, 'SLUICE_ERR_NO_VALID_EVENTS', 'No event in the batch is valid (3 rejected)')
      expect(body.errors).toEqual([
        { index: 0, id: null, code: 'SLUICE_ERR_UNKNOWN_EVENT_TYPE', message: expect.any(String) },
        { index: 1, id: null, code: 'SLUICE_ERR_INVALID_EVENT', message: expect.any(String) },
        { index: 2, id: null, code: 'SLUICE_ERR_INVALID_EVENT', message: 'data.run_id: Invalid GUID' },
      ])
    })

    it('200 for a gzip batch', async () => {
      const res = await ingest({ body: { events: goodEvents(20) }, gzip: true })
      expect(res.status).toBe(200)
      expect(res.body).toEqual({ status: 'ok', processed: 20 })
    })

    it('413 SLUICE_ERR_DECOMPRESSED_TOO_LARGE for a gzip bomb, quickly and without inflating it', async () => {
      // 50 MiB of "0" inside a JSON string: about 50 KB on the wire, far under the 5 MiB body limit.
      const bomb = gzipSync(Buffer.concat([Buffer.from('{"events": ["'), Buffer.alloc(50 * 1024 * 1024, 0x30), Buffer.from('"]}')]), { level: 9 })
      expect(bomb.length).toBeLessThan(64 * 1024)
      const rssBefore = process.memoryUsage().rss
      const started = performance.now()
      const res = await ingest({ rawBody: bomb, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } })
      const ms = performance.now() - started
      const grewMiB = (process.memoryUsage().rss - rssBefore) / 1024 / 1024
      expectError(res, 413, 'SLUICE_ERR_DECOMPRESSED_TOO_LARGE', `Body exceeds ${20 * 1024 * 1024} bytes once decompressed`)
      expect(ms).toBeLessThan(2_000)
      // Inflating stops at the 20 MiB limit; inflating it all (and parsing it) would cost 100+ MiB.
      expect(grewMiB).toBeLessThan(40)
    })

    it('400 for corrupt gzip', async () => {
      const json = JSON.stringify({ events: goodEvents(1) })
      const headers = { 'content-type': 'application/json', 'content-encoding': 'gzip' }
      expectError(await ingest({ rawBody: json, headers }), 400, 'SLUICE_ERR_INVALID_BODY', 'Body is not valid gzip')
      const truncated = gzipSync(json).subarray(0, 30)
      expectError(await ingest({ rawBody: truncated, headers }), 400, 'SLUICE_ERR_INVALID_BODY', 'Body is not valid gzip')
    })

    it('415 SLUICE_ERR_UNSUPPORTED_ENCODING for Content-Encoding br', async () => {
      const res = await ingest({ body: { events: goodEvents(1) }, headers: { 'content-encoding': 'br' } })
      expectError(res, 415, 'SLUICE_ERR_UNSUPPORTED_ENCODING', 'Content-Encoding br is not supported; send gzip or identity')
    })

    it('415 SLUICE_ERR_UNSUPPORTED_MEDIA_TYPE for text/plain and other types', async () => {
      const body = JSON.stringify({ events: goodEvents(1) })
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
        expectError(await ingest({ rawBody: body, headers: { 'content-type': type } }), 415, 'SLUICE_ERR_UNSUPPORTED_MEDIA_TYPE', /send application\/json/)
      }
      expectError(await ingest({ rawBody: body }), 415, 'SLUICE_ERR_UNSUPPORTED_MEDIA_TYPE')
    })

    it('echoes a sane x-request-id and makes one otherwise', async () => {
      const res = await ingest({ body: { events: goodEvents(1) }, headers: { 'x-request-id': 'abc-123' } })
      expect(res.status).toBe(200)
      expect(res.headers.get('x-request-id')).toBe('abc-123')
      const refused = await ingest({ body: { events: [] }, headers: { 'x-request-id': 'abc-124' } })
      expect(refused.headers.get('x-request-id')).toBe('abc-124')
      const insane = await ingest({ body: { events: goodEvents(1) }, headers: { 'x-request-id': 'a b<script>' } })
      expect(insane.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    })

    it('404 SLUICE_ERR_ROUTE_NOT_FOUND for an unknown route', async () => {
      expectError(await sluice.get('/nope'), 404, 'SLUICE_ERR_ROUTE_NOT_FOUND', 'Route GET /nope not found')
    })
  })

  describe('auth on /ingest and /api/projects', () => {
    afterEach(async () => {
      await expectStillServing(sluice, project)
    })

    const body = () => ({ events: goodEvents(1) })

    it('401 SLUICE_ERR_UNAUTHORIZED without a key, with another scheme, or with an unknown key', async () => {
      expectError(await sluice.post('/ingest', { body: body() }), 401, 'SLUICE_ERR_UNAUTHORIZED', 'Missing Authorization: Bearer <key> header')
      expectError(
        await sluice.post('/ingest', { body: body(), headers: { authorization: `Basic ${project.ingest_key}` } }),
        401,
        'SLUICE_ERR_UNAUTHORIZED',
      )
      expectError(await sluice.post('/ingest', { key: 'sl_ingest_unknown', body: body() }), 401, 'SLUICE_ERR_UNAUTHORIZED', 'Unknown or revoked key')
      expectError(await sluice.post('/ingest', { key: 'x'.repeat(5000), body: body() }), 401, 'SLUICE_ERR_UNAUTHORIZED')
    })

    it('checks the key before reading the body: a bad key with a gzip bomb is a 401, not a 413', async () => {
      const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024))
      const res = await sluice.post('/ingest', {
        key: 'sl_ingest_unknown',
        rawBody: bomb,
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      })
      expectError(res, 401, 'SLUICE_ERR_UNAUTHORIZED')
      expectError(await sluice.post('/ingest', { rawBody: '{"events": [', headers: { 'content-type': 'application/json' } }), 401, 'SLUICE_ERR_UNAUTHORIZED')
    })

    it('403 SLUICE_ERR_FORBIDDEN for a query key or the admin token on /ingest', async () => {
      expectError(await sluice.post('/ingest', { key: project.query_key, body: body() }), 403, 'SLUICE_ERR_FORBIDDEN', /ingest key/)
      expectError(await sluice.post('/ingest', { key: ADMIN_TOKEN, body: body() }), 403, 'SLUICE_ERR_FORBIDDEN', /ingest key/)
    })

    it('403 for an ingest or query key on POST /api/projects', async () => {
      for (const key of [project.ingest_key, project.query_key]) {
        expectError(await sluice.post('/api/projects', { key, body: { name: 'x' } }), 403, 'SLUICE_ERR_FORBIDDEN', /admin key/)
      }
      expectError(await sluice.post('/api/projects', { body: { name: 'x' } }), 401, 'SLUICE_ERR_UNAUTHORIZED')
    })

    it('201 for POST /api/projects with the admin token, with keys that work', async () => {
      const res = await sluice.post<Record<string, string>>('/api/projects', { key: ADMIN_TOKEN, body: { name: ' shop ' } })
      expect(res.status).toBe(201)
      expect(Object.keys(res.body).sort()).toEqual(['created_at', 'id', 'ingest_key', 'name', 'query_key'])
      expect(res.body).toMatchObject({
        id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
        name: 'shop',
        ingest_key: expect.stringMatching(/^sl_ingest_/),
        query_key: expect.stringMatching(/^sl_query_/),
        created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      })
      expect(Math.abs(Date.parse(res.body.created_at!) - Date.now())).toBeLessThan(60_000)
      const accepted = await sluice.post('/ingest', { key: res.body.ingest_key, body: body() })
      expect(accepted.body).toEqual({ status: 'ok', processed: 1 })
      // The query key is known (403, not 401): it is simply not an ingest key.
      expectError(await sluice.post('/ingest', { key: res.body.query_key, body: body() }), 403, 'SLUICE_ERR_FORBIDDEN')
    })

    it('400 SLUICE_ERR_VALIDATION for a bad project name', async () => {
      for (const b of [{}, { name: '' }, { name: '   ' }, { name: 'x'.repeat(201) }, { name: 5 }, []]) {
        expectError(await sluice.post('/api/projects', { key: ADMIN_TOKEN, body: b }), 400, 'SLUICE_ERR_VALIDATION', /^name: /)
      }
    })
  })

  describe('operations routes', () => {
    it('/ready is 200 with kafka, postgres and redis ok, clickhouse unused and no processor', async () => {
      const res = await sluice.get('/ready')
      expect(res.status).toBe(200)
      expect(res.body).toEqual({ status: 'ok', checks: { kafka: 'ok', postgres: 'ok', redis: 'ok', clickhouse: 'unused' }, processors: [] })
    })

    it('/metrics has the HTTP histogram for /ingest and counts ingest outcomes (sluice_ingest_requests_total was never counted)', async () => {
      const before = await sluice.get<string>('/metrics')
      expect((await sluice.post('/ingest', { key: project.ingest_key, body: { events: goodEvents(3) } })).status).toBe(200)
      expect((await sluice.post('/ingest', { key: project.ingest_key, body: { events: [{ type: 'nope', data: {} }, ...goodEvents(1)] } })).status).toBe(207)
      expect((await sluice.post('/ingest', { key: 'sl_ingest_not-a-key', body: { events: goodEvents(1) } })).status).toBe(401)
      const after = await sluice.get<string>('/metrics')
      expect(after.status).toBe(200)
      expect(after.headers.get('content-type')).toMatch(/^text\/plain/)
      expect(after.body).toMatch(/^http_request_duration_seconds_bucket\{[^}]*route="\/ingest"[^}]*status_code="200"[^}]*\} \d+$/m)
      const delta = (series: string) => sample(after.body, series) - sample(before.body, series)
      expect(delta('http_request_duration_seconds_count{method="POST",route="/ingest",status_code="207"}')).toBe(1)
      expect(delta('sluice_ingest_events_total{type="run_start",result="accepted"}')).toBe(4)
      expect(delta('sluice_ingest_events_total{type="unknown",result="invalid"}')).toBe(1)
      expect(delta('sluice_ingest_requests_total{outcome="ok"}')).toBe(1)
      expect(delta('sluice_ingest_requests_total{outcome="partial"}')).toBe(1)
      expect(delta('sluice_ingest_requests_total{outcome="unauthorized"}')).toBe(1)
      expect(after.body).toMatch(/^sluice_ready 1$/m)
    })
  })
})

describe('POST /ingest: limits', () => {
  const LIMITS = { SLUICE_MAX_BODY_BYTES: String(64 * 1024), SLUICE_MAX_BATCH_EVENTS: '50', SLUICE_MAX_EVENT_BYTES: '2048' }
  let sluice: TestSluice
  let project: TestProject

  beforeAll(async () => {
    sluice = await startTestSluice({ roles: ['ingest'], env: LIMITS })
    project = await sluice.createProject()
  })
  afterAll(async () => {
    await sluice?.close()
  })
  afterEach(async () => {
    await expectStillServing(sluice, project)
  })

  const ingest = (o: Parameters<TestSluice['post']>[1] = {}) => sluice.post('/ingest', { key: project.ingest_key, ...o })
  // Valid in every respect but its size: about 4 KB, over the 2 KiB event limit.
  const bigEvent = () => ({
    id: randomUUID(),
    type: 'step_complete',
    data: { step_id: randomUUID(), run_id: randomUUID(), name: 'rank', type: 'llm', reasoning: 'x'.repeat(4000) },
  })

  it('413 SLUICE_ERR_PAYLOAD_TOO_LARGE with the limit in the message for a body over the limit', async () => {
    const events = Array.from({ length: 20 }, bigEvent)
    expect(JSON.stringify({ events }).length).toBeGreaterThan(64 * 1024)
    expectError(await ingest({ body: { events } }), 413, 'SLUICE_ERR_PAYLOAD_TOO_LARGE', 'Body exceeds 65536 bytes as sent')
    // Without a Content-Length, fastify stops reading at the limit.
    const res = await fetch(`${sluice.url}/ingest`, {
      method: 'POST',
      headers: { authorization: `Bearer ${project.ingest_key}`, 'content-type': 'application/json' },
      body: chunkedBody(JSON.stringify({ events })),
      duplex: 'half',
    } as RequestInit)
    expectError({ status: res.status, headers: res.headers, body: await res.json() }, 413, 'SLUICE_ERR_PAYLOAD_TOO_LARGE', /65536/)
  })

  it('413 SLUICE_ERR_BATCH_TOO_LARGE for a batch over SLUICE_MAX_BATCH_EVENTS', async () => {
    expectError(await ingest({ body: { events: goodEvents(51) } }), 413, 'SLUICE_ERR_BATCH_TOO_LARGE', 'Batch has 51 events; the limit is 50')
    expect((await ingest({ body: { events: goodEvents(50) } })).body).toEqual({ status: 'ok', processed: 50 })
  })

  it('207 SLUICE_ERR_EVENT_TOO_LARGE for the one event over SLUICE_MAX_EVENT_BYTES', async () => {
    const big = bigEvent()
    const res = await ingest({ body: { events: [runStart(), big, runStart()] } })
    expect(res.status).toBe(207)
    expect(res.body).toEqual({
      status: 'partial',
      processed: 2,
      errors: [{ index: 1, id: big.id, code: 'SLUICE_ERR_EVENT_TOO_LARGE', message: 'Event exceeds 2048 bytes' }],
    })
  })

  // Regression: the acceptor sized events only when Content-Length exceeded the event limit, but
  // Content-Length is the compressed size (or absent), so large events inside gzip passed unchecked.
  it('207 SLUICE_ERR_EVENT_TOO_LARGE for a large event inside a small gzip body', async () => {
    const big = bigEvent()
    const res = await ingest({ body: { events: [runStart(), big] }, gzip: true })
    expect(res.status, JSON.stringify(res.body)).toBe(207)
    expect(res.body).toMatchObject({ processed: 1, errors: [{ index: 1, id: big.id, code: 'SLUICE_ERR_EVENT_TOO_LARGE' }] })
  })

  it('207 SLUICE_ERR_EVENT_TOO_LARGE for a large event in a body sent without Content-Length', async () => {
    const big = bigEvent()
    const res = await fetch(`${sluice.url}/ingest`, {
      method: 'POST',
      headers: { authorization: `Bearer ${project.ingest_key}`, 'content-type': 'application/json' },
      body: chunkedBody(JSON.stringify({ events: [big, runStart()] })),
      duplex: 'half',
    } as RequestInit)
    expect(res.status).toBe(207)
    expect(await res.json()).toMatchObject({ processed: 1, errors: [{ index: 0, id: big.id, code: 'SLUICE_ERR_EVENT_TOO_LARGE' }] })
  })
})

describe('POST /ingest: rate limit', () => {
  let sluice: TestSluice

  beforeAll(async () => {
    sluice = await startTestSluice({ roles: ['ingest'], env: { SLUICE_RATE_LIMIT_EVENTS_PER_SECOND: '5' } })
  })
  afterAll(async () => {
    await sluice?.close()
  })

  it('429 SLUICE_ERR_RATE_LIMITED with Retry-After once a project passes its events per second', async () => {
    const project = await sluice.createProject()
    const results = await Promise.all([1, 2, 3].map(() => sluice.post('/ingest', { key: project.ingest_key, body: { events: goodEvents(4) } })))
    const limited = results.filter((r) => r.status === 429)
    expect(limited.length).toBeGreaterThanOrEqual(1)
    expect(results.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(1)
    for (const r of results) expect([200, 429]).toContain(r.status)
    for (const r of limited) {
      expectError(r, 429, 'SLUICE_ERR_RATE_LIMITED', 'Rate limit of 5 events per second exceeded')
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    }
    // Another project has its own budget.
    const other = await sluice.createProject()
    expect((await sluice.post('/ingest', { key: other.ingest_key, body: { events: goodEvents(4) } })).status).toBe(200)
    // The budget is per second: the next second takes the batch again.
    await new Promise((r) => setTimeout(r, 1_050 - (Date.now() % 1_000)))
    expect((await sluice.post('/ingest', { key: project.ingest_key, body: { events: goodEvents(4) } })).status).toBe(200)
    expect((await sluice.get('/health')).status).toBe(200)
  })
})

describe('POST /ingest: broker unavailable', () => {
  let sluice: TestSluice
  let project: TestProject

  beforeAll(async () => {
    sluice = await startTestSluice({ roles: ['ingest'], env: { SLUICE_PRODUCE_TIMEOUT_MS: '1000' } })
    project = await sluice.createProject()
  })
  afterAll(async () => {
    await sluice?.close()
  })

  // The shared broker must stay up for the other test files, so this Sluice's own topic is deleted
  // instead: topic auto-creation is off, so every produce to it fails as with a broker gone.
  it('503 SLUICE_ERR_BROKER_UNAVAILABLE with Retry-After, within bounded time, when produce fails', async () => {
    expect((await sluice.post('/ingest', { key: project.ingest_key, body: { events: goodEvents(2) } })).status).toBe(200)
    const kafka = new Kafka({ clientId: 'ingest-test-admin', brokers: testServices().kafkaBrokers, logLevel: logLevel.NOTHING })
    const admin = kafka.admin()
    await admin.connect()
    try {
      await admin.deleteTopics({ topics: [sluice.config.kafka.eventsTopic], timeout: 10_000 })
    } finally {
      await admin.disconnect()
    }
    const started = performance.now()
    const res = await sluice.post('/ingest', { key: project.ingest_key, body: { events: goodEvents(3) } })
    const ms = performance.now() - started
    expectError(res, 503, 'SLUICE_ERR_BROKER_UNAVAILABLE', 'The event broker did not acknowledge the batch; send all of it again later (event ids make that safe)')
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(ms).toBeLessThan(15_000)
    expect((await sluice.get('/health')).status).toBe(200)
    const metrics = await sluice.get<string>('/metrics')
    expect(metrics.body).toMatch(/^sluice_ingest_events_total\{type="run_start",result="unavailable"\} 3$/m)
    expect(metrics.body).toMatch(/^sluice_ingest_requests_total\{outcome="unavailable"\} 1$/m)
  })
})


/** The value of one Prometheus series in /metrics text (0 when absent). */
function sample(metrics: string, series: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}
