import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from '../../test/helpers/test-app.ts'
import { ADMIN_TOKEN } from '../../test/helpers/test-sluice.ts'

// Every management write leaves exactly one audit row, made in the change's transaction, with the
// request id; no key or secret reaches Postgres, the logs or /metrics in plain text.

interface AuditRow {
  id: string
  at: string
  actor: { kind: string; key_id: string | null }
  action: string
  target: { type: string; id: string }
  project_id: string | null
  request_id: string | null
  changes: Record<string, unknown>
}

describe('the audit log', () => {
  let t: TestApp
  let project: { id: string; ingest_key: string; query_key: string }
  const secrets: string[] = []
  const requestIds: Record<string, string> = {}

  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, key: string, payload?: object, requestId?: string) =>
    t.app.inject({ method, url, headers: { authorization: `Bearer ${key}`, ...(requestId ? { 'x-request-id': requestId } : {}) }, ...(payload ? { payload } : {}) })
  const rid = (action: string) => (requestIds[action] = `${action}-${randomUUID()}`)
  const auditOf = async (action: string) => {
    const res = await call('GET', `/api/audit?project_id=${project.id}&action=${action}`, ADMIN_TOKEN)
    expect(res.statusCode, res.body).toBe(200)
    return res.json<AuditRow[]>()
  }

  beforeAll(async () => {
    t = await buildTestApp({ roles: ['ingest', 'query'] })
    const res = await call('POST', '/api/projects', ADMIN_TOKEN, { name: 'audited' }, rid('project.created'))
    project = res.json()
    secrets.push(project.ingest_key, project.query_key)
  })
  afterAll(async () => {
    await t?.close()
  })

  it('records each kind of change once, with its actor, target and request id', async () => {
    const key = (await call('POST', `/api/projects/${project.id}/keys`, ADMIN_TOKEN, { kind: 'ingest', name: 'ci' }, rid('key.created'))).json<{ id: string; key: string }>()
    secrets.push(key.key)
    expect((await call('DELETE', `/api/projects/${project.id}/keys/${key.id}`, ADMIN_TOKEN, undefined, rid('key.revoked'))).statusCode).toBe(204)

    const webhookSecret = `whsec_test_${randomUUID()}`
    const newSecret = `whsec_next_${randomUUID()}`
    secrets.push(webhookSecret, newSecret)
    const reaction = (
      await call('POST', '/api/reactions', project.query_key, {
        name: 'errors',
        event_type: 'log',
        conditions: [{ field: 'level', op: 'eq', value: 'error' }],
        actions: [{ type: 'webhook', url: 'https://example.com/hook', secret: webhookSecret }],
      }, rid('reaction.created'))
    ).json<{ id: string }>()
    const patched = await call('PATCH', `/api/reactions/${reaction.id}`, project.query_key, { name: 'all errors', actions: [{ type: 'webhook', url: 'https://example.com/hook', secret: newSecret }] }, rid('reaction.updated'))
    expect(patched.statusCode, patched.body).toBe(200)
    expect((await call('DELETE', `/api/reactions/${reaction.id}`, project.query_key, undefined, rid('reaction.deleted'))).statusCode).toBe(204)

    const complaintId = await insertComplaint(project.id, 'open')
    const acked = await call('PATCH', `/api/complaints/${complaintId}`, project.query_key, { status: 'acknowledged', note: 'on it' }, rid('complaint.updated'))
    expect(acked.statusCode, acked.body).toBe(200)

    const queryKeyId = (await t.services.pg.query<{ id: string }>(`SELECT id FROM api_keys WHERE project_id = $1 AND kind = 'query'`, [project.id])).rows[0]!.id
    const expected: Record<string, { actor: AuditRow['actor']; target: AuditRow['target'] }> = {
      'project.created': { actor: { kind: 'admin', key_id: null }, target: { type: 'project', id: project.id } },
      'key.created': { actor: { kind: 'admin', key_id: null }, target: { type: 'key', id: key.id } },
      'key.revoked': { actor: { kind: 'admin', key_id: null }, target: { type: 'key', id: key.id } },
      'reaction.created': { actor: { kind: 'query', key_id: queryKeyId }, target: { type: 'reaction', id: reaction.id } },
      'reaction.updated': { actor: { kind: 'query', key_id: queryKeyId }, target: { type: 'reaction', id: reaction.id } },
      'reaction.deleted': { actor: { kind: 'query', key_id: queryKeyId }, target: { type: 'reaction', id: reaction.id } },
      'complaint.updated': { actor: { kind: 'query', key_id: queryKeyId }, target: { type: 'complaint', id: complaintId } },
    }
    for (const [action, { actor, target }] of Object.entries(expected)) {
      const rows = await auditOf(action)
      expect(rows, action).toHaveLength(1)
      expect(rows[0]).toMatchObject({ action, actor, target, project_id: project.id, request_id: requestIds[action] })
      expect(rows[0]!.at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
    }
    expect((await auditOf('reaction.updated'))[0]!.changes).toMatchObject({ name: { from: 'errors', to: 'all errors' } })
    expect((await auditOf('complaint.updated'))[0]!.changes).toEqual({ status: { from: 'open', to: 'acknowledged' }, note: { from: null, to: 'on it' } })
    const actions = (await auditOf('reaction.created'))[0]!.changes.actions as Array<{ secret: string }>
    expect(actions[0]!.secret).toBe('[redacted]')
  })

  it('writes no row when the change fails (same transaction)', async () => {
    const fingerprint = randomUUID()
    const resolved = await insertComplaint(project.id, 'resolved', fingerprint)
    await insertComplaint(project.id, 'open', fingerprint)
    const before = (await auditOf('complaint.updated')).length
    const reopened = await call('PATCH', `/api/complaints/${resolved}`, project.query_key, { status: 'open' })
    expect(reopened.statusCode).toBe(409)
    expect(await auditOf('complaint.updated')).toHaveLength(before)
    const { rows } = await t.services.pg.query('SELECT count(*)::int AS n FROM audit_log WHERE target_id = $1', [resolved])
    expect(rows[0].n).toBe(0)
  })

  it('serves a project its own rows to its query key, newest first, paged; other projects are 404', async () => {
    const first = await call('GET', `/api/projects/${project.id}/audit?limit=3`, project.query_key)
    expect(first.statusCode).toBe(200)
    const page = first.json<AuditRow[]>()
    expect(page).toHaveLength(3)
    const all = [...page]
    let link = /^<([^>]+)>; rel="next"$/.exec(String(first.headers.link))
    expect(link).not.toBeNull()
    while (link) {
      const next = await call('GET', link[1]!, project.query_key)
      all.push(...next.json<AuditRow[]>())
      link = /^<([^>]+)>; rel="next"$/.exec(String(next.headers.link ?? ''))
    }
    expect(all).toHaveLength(7)
    expect(new Set(all.map((r) => r.id)).size).toBe(all.length)
    expect(all.every((r) => r.project_id === project.id)).toBe(true)
    const times = all.map((r) => r.at)
    expect([...times].sort().reverse()).toEqual(times)
    expect(all.map((r) => r.action)).toContain('project.created')

    const other = (await call('POST', '/api/projects', ADMIN_TOKEN, { name: 'other' })).json<{ id: string; query_key: string }>()
    secrets.push(other.query_key)
    expect((await call('GET', `/api/projects/${project.id}/audit`, other.query_key)).statusCode).toBe(404)
    expect((await call('GET', `/api/projects/${project.id}/audit`, ADMIN_TOKEN)).statusCode).toBe(403)
    expect((await call('GET', '/api/audit', project.query_key)).statusCode).toBe(403)
    expect((await call('GET', `/api/projects/${project.id}/audit?cursor=nope`, project.query_key)).json().code).toBe('SLUICE_ERR_INVALID_CURSOR')
    expect((await call('GET', `/api/audit?from=yesterday`, ADMIN_TOKEN)).json().code).toBe('SLUICE_ERR_VALIDATION')
    const future = await call('GET', `/api/audit?project_id=${project.id}&from=${Date.now() + 60_000}`, ADMIN_TOKEN)
    expect(future.json()).toEqual([])
  })

  it('keeps every key and secret out of Postgres, the logs and /metrics', async () => {
    expect(secrets.length).toBeGreaterThanOrEqual(6)
    const { rows: columns } = await t.services.pg.query<{ table_name: string; column_name: string }>(
      `SELECT table_name, column_name FROM information_schema.columns
       WHERE table_schema = current_schema() AND table_name IN ('api_keys', 'audit_log', 'projects')`,
    )
    expect(columns.length).toBeGreaterThanOrEqual(20)
    for (const { table_name, column_name } of columns) {
      const { rows } = await t.services.pg.query<{ v: string | null }>(`SELECT "${column_name}"::text AS v FROM ${table_name}`)
      const text = rows.map((r) => r.v ?? '').join('\n')
      for (const secret of secrets) {
        expect(text.includes(secret), `${table_name}.${column_name}`).toBe(false)
        // Nor the random part alone (a key stored without its prefix).
        expect(text.includes(secret.slice(-24)), `${table_name}.${column_name}`).toBe(false)
      }
    }
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' })
    expect(metrics.statusCode).toBe(200)
    const logs = t.logs()
    expect(logs).toContain('"msg":"request"')
    for (const secret of secrets) {
      expect(metrics.body.includes(secret)).toBe(false)
      expect(logs.includes(secret), 'logs').toBe(false)
    }
  })

  async function insertComplaint(projectId: string, status: string, fingerprint = randomUUID()): Promise<string> {
    const id = randomUUID()
    await t.services.pg.query(
      `INSERT INTO complaints (id, project_id, reaction_id, fingerprint, title, severity, status, occurrences, first_seen_at, last_seen_at)
       VALUES ($1, $2, $3, $4, 'test', 'error', $5, 1, now(), now())`,
      [id, projectId, randomUUID(), fingerprint, status],
    )
    return id
  }
})
