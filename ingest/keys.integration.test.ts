import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createKeyResolver } from '../lib/auth/key-resolver.ts'
import { buildTestApp, type TestApp } from '../test/helpers/test-app.ts'
import { ADMIN_TOKEN } from '../test/helpers/test-sluice.ts'

// Keys: several of each kind per project, listed without secrets, revoked everywhere within 5 s.
// Two apps built on separate connections to one Postgres stand for two Sluice processes.

const bearer = (key: string) => ({ authorization: `Bearer ${key}` })
const event = () => ({ events: [{ id: randomUUID(), type: 'log', data: { level: 'info', message: 'hello' } }] })

interface NewKey {
  id: string
  kind: string
  name: string | null
  key: string
  prefix: string
  created_at: string
}

describe('project keys', () => {
  let a: TestApp
  let b: TestApp
  let project: { id: string; name: string; ingest_key: string; query_key: string }

  beforeAll(async () => {
    ;[a, b] = await Promise.all([buildTestApp({ roles: ['ingest'] }), buildTestApp({ roles: ['ingest'] })])
    const res = await a.app.inject({ method: 'POST', url: '/api/projects', headers: bearer(ADMIN_TOKEN), payload: { name: `keys-${randomUUID().slice(0, 8)}` } })
    expect(res.statusCode).toBe(201)
    expect(res.headers['cache-control']).toBe('no-store')
    project = res.json()
  })
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()])
  })

  const createKey = async (body: object, id = project.id) =>
    a.app.inject({ method: 'POST', url: `/api/projects/${id}/keys`, headers: bearer(ADMIN_TOKEN), payload: body })
  const ingest = (app: TestApp, key: string) => app.app.inject({ method: 'POST', url: '/ingest', headers: bearer(key), payload: event() })

  it('creates a named key, shown once with no-store, that works at once', async () => {
    const res = await createKey({ kind: 'ingest', name: 'browser sdk' })
    expect(res.statusCode, res.body).toBe(201)
    expect(res.headers['cache-control']).toBe('no-store')
    const key = res.json<NewKey>()
    expect(Object.keys(key).sort()).toEqual(['created_at', 'id', 'key', 'kind', 'name', 'prefix'])
    expect(key).toMatchObject({ kind: 'ingest', name: 'browser sdk', prefix: key.key.slice(0, 14) })
    expect(key.key).toMatch(/^sl_ingest_/)
    expect((await ingest(b, key.key)).statusCode).toBe(200)
  })

  it('lists every key of the project without the keys themselves', async () => {
    const made = (await createKey({ kind: 'query' })).json<NewKey>()
    const res = await a.app.inject({ method: 'GET', url: `/api/projects/${project.id}/keys`, headers: bearer(ADMIN_TOKEN) })
    expect(res.statusCode).toBe(200)
    const keys = res.json<Array<Record<string, unknown>>>()
    expect(keys.length).toBeGreaterThanOrEqual(4)
    for (const k of keys) expect(Object.keys(k).sort()).toEqual(['created_at', 'id', 'kind', 'last_used_at', 'name', 'prefix', 'revoked_at'])
    expect(keys.find((k) => k.id === made.id)).toMatchObject({ kind: 'query', name: null, revoked_at: null, last_used_at: null })
    expect(res.body).not.toContain(made.key)
    expect(res.body).not.toContain(project.ingest_key)
    expect(keys.filter((k) => k.name === 'default').map((k) => k.kind).sort()).toEqual(['ingest', 'query'])

    // Paged like every list: one key a page, every key once, newest first.
    const seen: string[] = []
    let url: string | undefined = `/api/projects/${project.id}/keys?limit=1`
    while (url) {
      const page: Awaited<ReturnType<TestApp['app']['inject']>> = await a.app.inject({ method: 'GET', url, headers: bearer(ADMIN_TOKEN) })
      expect(page.statusCode).toBe(200)
      seen.push(...page.json<Array<{ id: string }>>().map((k) => k.id))
      url = /^<([^>]+)>; rel="next"$/.exec(String(page.headers.link ?? ''))?.[1]
    }
    expect(seen).toEqual(keys.map((k) => k.id))
    const bad = await a.app.inject({ method: 'GET', url: `/api/projects/${project.id}/keys?cursor=x`, headers: bearer(ADMIN_TOKEN) })
    expect(bad.json().code).toBe('SLUICE_ERR_INVALID_CURSOR')
  })

  it('stamps last_used_at once a key is used', async () => {
    const made = (await createKey({ kind: 'ingest', name: 'stamped' })).json<NewKey>()
    expect((await ingest(a, made.key)).statusCode).toBe(200)
    const deadline = Date.now() + 5_000
    let stamped: string | null = null
    while (!stamped && Date.now() < deadline) {
      const keys = (await a.app.inject({ method: 'GET', url: `/api/projects/${project.id}/keys`, headers: bearer(ADMIN_TOKEN) })).json<Array<{ id: string; last_used_at: string | null }>>()
      stamped = keys.find((k) => k.id === made.id)!.last_used_at
      if (!stamped) await new Promise((r) => setTimeout(r, 50))
    }
    expect(stamped).toMatch(/^\d{4}-\d{2}-\d{2}T/)
    // A second use within the minute writes nothing more.
    expect((await ingest(a, made.key)).statusCode).toBe(200)
    const { rows } = await a.services.pg.query<{ last_used_at: Date }>('SELECT last_used_at FROM api_keys WHERE id = $1', [made.id])
    expect(rows[0]!.last_used_at.toISOString()).toBe(stamped)
  })

  it('rotates: new key, old key revoked, the old one refused by every process within 5 s', async () => {
    const old = (await createKey({ kind: 'ingest', name: 'old' })).json<NewKey>()
    const next = (await createKey({ kind: 'ingest', name: 'new' })).json<NewKey>()
    // Both processes have the old key cached as valid.
    expect((await ingest(a, old.key)).statusCode).toBe(200)
    expect((await ingest(b, old.key)).statusCode).toBe(200)

    const revoked = await a.app.inject({ method: 'DELETE', url: `/api/projects/${project.id}/keys/${old.id}`, headers: bearer(ADMIN_TOKEN) })
    expect(revoked.statusCode).toBe(204)
    const start = Date.now()
    // The revoking process refuses it at once.
    expect((await ingest(a, old.key)).statusCode).toBe(401)
    let refusedAfterMs = -1
    while (Date.now() - start < 5_000) {
      const res = await ingest(b, old.key)
      if (res.statusCode === 401) {
        refusedAfterMs = Date.now() - start
        expect(res.json()).toMatchObject({ statusCode: 401, code: 'SLUICE_ERR_UNAUTHORIZED' })
        break
      }
      await new Promise((r) => setTimeout(r, 100))
    }
    console.info(`revoked key refused by the other process after ${refusedAfterMs} ms`)
    expect(refusedAfterMs).toBeGreaterThanOrEqual(0)
    expect(refusedAfterMs).toBeLessThan(5_000)
    expect((await ingest(b, next.key)).statusCode).toBe(200)

    const listed = (await a.app.inject({ method: 'GET', url: `/api/projects/${project.id}/keys`, headers: bearer(ADMIN_TOKEN) })).json<Array<{ id: string; revoked_at: string | null }>>()
    expect(listed.find((k) => k.id === old.id)!.revoked_at).toMatch(/^\d{4}-/)
    // Revoking again changes nothing and is still 204.
    expect((await a.app.inject({ method: 'DELETE', url: `/api/projects/${project.id}/keys/${old.id}`, headers: bearer(ADMIN_TOKEN) })).statusCode).toBe(204)
  })

  it('refuses a key revoked behind its back once the cache TTL passes, without any notification', async () => {
    const made = (await createKey({ kind: 'ingest', name: 'ttl' })).json<NewKey>()
    const resolveKey = createKeyResolver({ pg: a.services.pg, ttlMs: 300 })
    expect(await resolveKey(made.key)).toMatchObject({ keyId: made.id, projectId: project.id, kind: 'ingest' })
    // Revoked with plain SQL: no NOTIFY, so only the TTL can end the cached answer.
    await a.services.pg.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [made.id])
    expect(await resolveKey(made.key)).not.toBeNull()
    await new Promise((r) => setTimeout(r, 350))
    expect(await resolveKey(made.key)).toBeNull()
  })

  it('is 404 for an unknown project, or another project\'s key', async () => {
    const other = (await a.app.inject({ method: 'POST', url: '/api/projects', headers: bearer(ADMIN_TOKEN), payload: { name: 'other' } })).json<{ id: string }>()
    const otherKey = (await createKey({ kind: 'query' }, other.id)).json<NewKey>()
    for (const [method, url] of [
      ['POST', `/api/projects/${randomUUID()}/keys`],
      ['GET', `/api/projects/${randomUUID()}/keys`],
      ['GET', '/api/projects/not-a-uuid/keys'],
      ['DELETE', `/api/projects/${randomUUID()}/keys/${otherKey.id}`],
      ['DELETE', `/api/projects/${project.id}/keys/${otherKey.id}`],
      ['DELETE', `/api/projects/${project.id}/keys/not-a-uuid`],
    ] as const) {
      const res = await a.app.inject({ method, url, headers: bearer(ADMIN_TOKEN), ...(method === 'POST' ? { payload: { kind: 'ingest' } } : {}) })
      expect(res.statusCode, `${method} ${url}`).toBe(404)
      expect(res.json().code).toBe('SLUICE_ERR_NOT_FOUND')
    }
    // The other project's key still works: nothing was revoked.
    expect((await a.services.pg.query('SELECT revoked_at FROM api_keys WHERE id = $1', [otherKey.id])).rows[0].revoked_at).toBeNull()
  })

  it('refuses a bad kind, unknown fields, and any key but the admin token', async () => {
    expect((await createKey({ kind: 'admin' })).json().code).toBe('SLUICE_ERR_VALIDATION')
    expect((await createKey({ kind: 'query', extra: 1 })).statusCode).toBe(400)
    expect((await createKey({ kind: 'query', name: '' })).statusCode).toBe(400)
    const asQuery = await a.app.inject({ method: 'GET', url: `/api/projects/${project.id}/keys`, headers: bearer(project.query_key) })
    expect(asQuery.statusCode).toBe(403)
    const anonymous = await a.app.inject({ method: 'GET', url: '/api/projects' })
    expect(anonymous.statusCode).toBe(401)
  })

  it('lists projects without keys, newest first, paged with Link', async () => {
    const res = await a.app.inject({ method: 'GET', url: '/api/projects?limit=1', headers: bearer(ADMIN_TOKEN) })
    expect(res.statusCode).toBe(200)
    const page = res.json<Array<Record<string, unknown>>>()
    expect(page).toHaveLength(1)
    expect(Object.keys(page[0]!).sort()).toEqual(['created_at', 'id', 'name'])
    const link = /^<([^>]+)>; rel="next"$/.exec(String(res.headers.link))
    expect(link).not.toBeNull()
    const second = await a.app.inject({ method: 'GET', url: link![1]!, headers: bearer(ADMIN_TOKEN) })
    expect(second.statusCode).toBe(200)
    expect(second.json<Array<{ id: string }>>()[0]!.id).not.toBe(page[0]!.id)
    expect((await a.app.inject({ method: 'GET', url: '/api/projects?cursor=bogus', headers: bearer(ADMIN_TOKEN) })).json().code).toBe('SLUICE_ERR_INVALID_CURSOR')
    const all = await a.app.inject({ method: 'GET', url: '/api/projects?limit=1000', headers: bearer(ADMIN_TOKEN) })
    expect(all.body).not.toContain('sl_ingest_')
    expect(all.body).not.toContain('sl_query_')
  })
})
