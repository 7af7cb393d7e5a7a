import { randomUUID } from 'node:crypto'
import { connect } from 'node:net'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from '../../test/helpers/test-app.ts'
import { ADMIN_TOKEN } from '../../test/helpers/test-sluice.ts'
import { createLogger } from '../logger.ts'
import { createMetrics } from '../metrics.ts'
import { createHttpApp } from './create-http-app.ts'

// The contract's "HTTP hygiene": CORS (real preflights), security headers on every route family and
// error, and what Node's HTTP parser refuses answered in Sluice's error shape (raw sockets).

const CONSOLE = 'https://console.example'
const EVIL = 'https://evil.example'

function expectHygiene(res: LightMyRequestResponse, what: string) {
  expect(res.headers['x-content-type-options'], what).toBe('nosniff')
  expect(res.headers['referrer-policy'], what).toBe('no-referrer')
  expect(res.headers['x-request-id'], what).toMatch(/^[\w.:-]+$/)
}

/** Sends raw bytes and returns the raw answer (the server closes the connection). */
function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let answer = ''
    socket.on('data', (d) => (answer += d.toString('utf8')))
    socket.on('end', () => resolve(answer))
    socket.on('error', (err) => (answer ? resolve(answer) : reject(err)))
    socket.write(bytes)
  })
}

function parseRaw(raw: string) {
  const [head, body] = raw.split('\r\n\r\n') as [string, string]
  const [statusLine, ...lines] = head.split('\r\n')
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]))
  return { status: Number(statusLine!.split(' ')[1]), headers, body: JSON.parse(body) as Record<string, unknown> }
}

describe('HTTP hygiene', () => {
  let t: TestApp
  let project: { id: string; ingest_key: string; query_key: string }
  let port: number

  beforeAll(async () => {
    t = await buildTestApp({ roles: ['ingest', 'query'], env: { SLUICE_CORS_ORIGINS: CONSOLE } })
    const res = await t.app.inject({ method: 'POST', url: '/api/projects', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { name: 'hygiene' } })
    project = res.json()
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    port = (t.app.server.address() as { port: number }).port
  })
  afterAll(async () => {
    await t?.close()
  })

  const preflight = (url: string, origin: string, method: string) =>
    t.app.inject({ method: 'OPTIONS', url, headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization,content-type' } })

  describe('CORS', () => {
    it('answers preflights for /ingest and POST /api/logs from any origin, without credentials', async () => {
      for (const url of ['/ingest', '/api/logs']) {
        const res = await preflight(url, EVIL, 'POST')
        expect(res.statusCode, url).toBe(204)
        expect(res.headers['access-control-allow-origin'], url).toBe('*')
        expect(res.headers['access-control-allow-methods'], url).toBe('POST')
        expect(res.headers['access-control-allow-headers'], url).toBe('Authorization, Content-Type, Content-Encoding')
        expect(res.headers['access-control-allow-credentials'], url).toBeUndefined()
        expectHygiene(res, url)
      }
      const sent = await t.app.inject({
        method: 'POST',
        url: '/ingest',
        headers: { origin: EVIL, authorization: `Bearer ${project.ingest_key}` },
        payload: { events: [{ id: randomUUID(), type: 'log', data: { level: 'info', message: 'from a browser' } }] },
      })
      expect(sent.statusCode).toBe(200)
      expect(sent.headers['access-control-allow-origin']).toBe('*')
    })

    it('allows every other route only from SLUICE_CORS_ORIGINS', async () => {
      for (const [url, method] of [['/runs', 'GET'], ['/api/logs', 'GET'], ['/api/projects', 'POST'], [`/api/reactions/${project.id}`, 'GET']] as const) {
        const allowed = await preflight(url, CONSOLE, method)
        expect(allowed.statusCode, url).toBe(204)
        expect(allowed.headers['access-control-allow-origin'], url).toBe(CONSOLE)
        expect(String(allowed.headers.vary), url).toMatch(/Origin/i)
        expect(String(allowed.headers['access-control-allow-methods']), url).toContain(method)
        const refused = await preflight(url, EVIL, method)
        expect(refused.headers['access-control-allow-origin'], url).toBeUndefined()
      }
      const read = await t.app.inject({ method: 'GET', url: `/api/reactions/${project.id}`, headers: { origin: EVIL, authorization: `Bearer ${project.query_key}` } })
      expect(read.statusCode).toBe(200)
      expect(read.headers['access-control-allow-origin']).toBeUndefined()
    })

    it('allows no origin on those routes by default', async () => {
      const app = createHttpApp({ logger: createLogger({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }), bodyLimit: 1024 })
      app.get('/runs', async () => [])
      app.post('/ingest', async () => ({ status: 'ok' }))
      try {
        const refused = await app.inject({ method: 'OPTIONS', url: '/runs', headers: { origin: CONSOLE, 'access-control-request-method': 'GET' } })
        // /runs exists, but not for OPTIONS from this origin: 405 with the methods it takes.
        expect(refused.statusCode).toBe(405)
        expect(refused.json().code).toBe('SLUICE_ERR_METHOD_NOT_ALLOWED')
        expect(refused.headers.allow).toBe('GET, HEAD')
        expect(refused.headers['access-control-allow-origin']).toBeUndefined()
        expectHygiene(refused, 'default preflight')
        const open = await app.inject({ method: 'OPTIONS', url: '/ingest', headers: { origin: CONSOLE, 'access-control-request-method': 'POST' } })
        expect(open.headers['access-control-allow-origin']).toBe('*')
      } finally {
        await app.close()
      }
    })
  })

  describe('security headers', () => {
    it('are on every route family, errors included, and echo the request id', async () => {
      const q = { authorization: `Bearer ${project.query_key}` }
      const cases: Array<[string, InjectOptions & { headers?: Record<string, string> }, number]> = [
        ['ingest', { method: 'POST', url: '/api/logs', headers: { authorization: `Bearer ${project.ingest_key}` }, payload: { level: 'info', message: 'x' } }, 200],
        ['query', { method: 'GET', url: '/runs', headers: q }, 200],
        ['query (Postgres)', { method: 'GET', url: `/api/complaints/${project.id}`, headers: q }, 200],
        ['admin', { method: 'GET', url: '/api/projects', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }, 200],
        ['ops', { method: 'GET', url: '/health' }, 200],
        ['ops metrics', { method: 'GET', url: '/metrics' }, 200],
        ['docs', { method: 'GET', url: '/openapi.json' }, 200],
        ['404', { method: 'GET', url: '/nowhere' }, 404],
        ['401', { method: 'GET', url: '/runs' }, 401],
        ['403', { method: 'GET', url: '/runs', headers: { authorization: `Bearer ${project.ingest_key}` } }, 403],
        ['400', { method: 'GET', url: '/runs?limit=0', headers: q }, 400],
      ]
      for (const [what, request, status] of cases) {
        const sent = `req-${randomUUID()}`
        const res = await t.app.inject({ ...request, headers: { ...request.headers, 'x-request-id': sent } })
        expect(res.statusCode, `${what}: ${res.body.slice(0, 200)}`).toBe(status)
        expectHygiene(res, what)
        expect(res.headers['x-request-id'], what).toBe(sent)
      }
    })

    it('mark responses that carry a key no-store', async () => {
      const res = await t.app.inject({ method: 'POST', url: '/api/projects', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { name: 'no-store' } })
      expect(res.headers['cache-control']).toBe('no-store')
      const key = await t.app.inject({ method: 'POST', url: `/api/projects/${project.id}/keys`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { kind: 'query' } })
      expect(key.headers['cache-control']).toBe('no-store')
    })

    it('give /docs (Swagger UI) a Content-Security-Policy without inline scripts', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/docs' })
      expect(res.statusCode).toBe(200)
      expectHygiene(res, '/docs')
      const csp = String(res.headers['content-security-policy'])
      expect(csp).toContain("default-src 'none'")
      expect(csp).not.toContain('unsafe-inline')
      expect(csp).not.toContain('unsafe-eval')
      expect(csp).toMatch(/script-src 'self';/)
      // Every script is a file of this server: no inline script, no handler attribute.
      const scripts = [...res.body.matchAll(/<script([^>]*)>([^<]*)<\/script>/gi)]
      expect(scripts.length).toBeGreaterThan(0)
      for (const [, attrs, content] of scripts) {
        expect(attrs).toMatch(/ src="\/docs\/static\/[\w.-]+\.js"/)
        expect(content!.trim()).toBe('')
      }
      expect(res.body).not.toMatch(/\son\w+=/i)
      // Its assets carry the same policy.
      const asset = await t.app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' })
      expect(asset.statusCode).toBe(200)
      expect(asset.headers['content-security-policy']).toBe(csp)
      expectHygiene(asset, '/docs asset')
    })
  })

  describe("Node's HTTP parser errors", () => {
    it('answers headers too large with 431 in the error shape, with a request id', async () => {
      const raw = await rawRequest(port, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
      const res = parseRaw(raw)
      expect(res.status).toBe(431)
      expect(res.body).toEqual({ statusCode: 431, error: 'Request Header Fields Too Large', code: 'SLUICE_ERR_HEADERS_TOO_LARGE', message: expect.stringMatching(/exceed \d+ bytes/) })
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
      expect(res.headers['x-content-type-options']).toBe('nosniff')
      expect(res.headers['content-type']).toContain('application/json')
    })

    it('answers a malformed request with 400 in the error shape', async () => {
      for (const bytes of ['GET /health HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n', 'NOT HTTP AT ALL\r\n\r\n']) {
        const res = parseRaw(await rawRequest(port, bytes))
        expect(res.status, bytes).toBe(400)
        expect(res.body, bytes).toMatchObject({ statusCode: 400, error: 'Bad Request', code: 'SLUICE_ERR_MALFORMED_REQUEST' })
        expect(res.headers['x-request-id']).toBeTruthy()
      }
      // The server still serves.
      expect((await t.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200)
      expect(t.logs()).toContain('"code":"SLUICE_ERR_MALFORMED_REQUEST"')
    })
  })
})
