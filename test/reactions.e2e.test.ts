import { randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { verifyWebhookSignature } from '../processors/webhook-dispatcher/webhook-signature.ts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestSluice, type TestProject, type TestSluice } from './helpers/test-sluice.ts'
import { waitFor } from './helpers/wait-for.ts'

interface Complaint {
  id: string
  project_id: string
  reaction_id: string
  fingerprint: string
  group: Record<string, unknown>
  title: string
  severity: string
  status: string
  occurrences: number
  first_seen_at: string
  last_seen_at: string
  sample_event: { id: string; type: string; data: Record<string, unknown> }
  note: string | null
  resolved_at: string | null
}

const checkoutErrorRule = {
  name: 'checkout errors in the EU',
  event_type: 'log',
  conditions: [
    { field: 'level', op: 'in', value: ['error', 'fatal'] },
    { field: 'attributes.region', op: 'eq', value: 'eu' },
    { field: 'service', op: 'eq', value: 'checkout' },
  ],
  threshold: { count: 5, window_seconds: 120 },
  group_by: ['service'],
  severity: 'critical',
  actions: [{ type: 'complaint' }],
}


function logEvent(overrides: Record<string, unknown> = {}, id: string = randomUUID()) {
  return { id, type: 'log', data: { level: 'error', message: 'payment timeout', service: 'checkout', attributes: { region: 'eu' }, ...overrides } }
}

describe('reactions and complaints end to end', () => {
  let sluice: TestSluice

  beforeAll(async () => {
    sluice = await startTestSluice()
  })

  afterAll(async () => {
    await sluice?.close()
  })

  async function send(project: TestProject, events: unknown[]): Promise<void> {
    const res = await sluice.post('/ingest', { key: project.ingest_key, body: { events } })
    expect(res.status).toBe(200)
    await sluice.waitUntilProcessed()
  }

  async function complaints(project: TestProject, query = ''): Promise<Complaint[]> {
    const res = await sluice.get<Complaint[]>(`/api/complaints/${project.id}${query}`, { key: project.query_key })
    expect(res.status).toBe(200)
    return res.body
  }

  async function createRule(project: TestProject, rule: object): Promise<{ id: string }> {
    const res = await sluice.post<{ id: string }>('/api/reactions', { key: project.query_key, body: rule })
    expect(res.status).toBe(201)
    return res.body
  }

  it('opens exactly one complaint when the threshold is met, then counts every further match once', async () => {
    const project = await sluice.createProject()
    const rule = await createRule(project, checkoutErrorRule)

    // Four matches and noise that must not count: another region, a warning, another service.
    const first = Array.from({ length: 4 }, () => logEvent())
    await send(project, [...first, logEvent({ attributes: { region: 'us' } }), logEvent({ level: 'warning' }), logEvent({ service: 'search' })])
    expect(await complaints(project)).toEqual([])

    const fifth = logEvent()
    await send(project, [fifth, first[0]!])
    const opened = await complaints(project)
    expect(opened).toHaveLength(1)
    expect(opened[0]).toMatchObject({
      project_id: project.id,
      reaction_id: rule.id,
      group: { service: 'checkout' },
      title: 'checkout errors in the EU (service=checkout)',
      severity: 'critical',
      status: 'open',
      occurrences: 5,
      note: null,
      resolved_at: null,
    })
    expect(opened[0]!.sample_event).toMatchObject({ id: fifth.id, type: 'log', data: { level: 'error', service: 'checkout' } })

    // Three more matches and resends of five counted ones: occurrences 8, still one complaint.
    const more = Array.from({ length: 3 }, () => logEvent())
    await send(project, [...more, ...first, fifth])
    const after = await complaints(project)
    expect(after).toHaveLength(1)
    expect(after[0]!.occurrences).toBe(8)
    expect(Date.parse(after[0]!.last_seen_at)).toBeGreaterThanOrEqual(Date.parse(opened[0]!.last_seen_at))

    const one = await sluice.get<Complaint>(`/api/complaints/${after[0]!.id}`, { key: project.query_key })
    expect(one.body).toEqual(after[0])
  })

  it('opens a new complaint after a resolve, never counting a match twice', async () => {
    const project = await sluice.createProject()
    await createRule(project, { ...checkoutErrorRule, threshold: { count: 2, window_seconds: 600 } })
    await send(project, [logEvent(), logEvent(), logEvent()])
    const [first] = await complaints(project)
    expect(first!.occurrences).toBe(3)

    const bad = await sluice.request<{ code: string }>('PATCH', `/api/complaints/${first!.id}`, {
      key: project.query_key,
      body: { status: 'resolved', occurrences: 0 },
    })
    expect(bad.status).toBe(400)
    expect(bad.body.code).toBe('SLUICE_ERR_VALIDATION')

    const resolved = await sluice.request<Complaint>('PATCH', `/api/complaints/${first!.id}`, {
      key: project.query_key,
      body: { status: 'resolved', note: 'fixed the gateway timeout' },
    })
    expect(resolved.status).toBe(200)
    expect(resolved.body).toMatchObject({ status: 'resolved', note: 'fixed the gateway timeout' })
    expect(resolved.body.resolved_at).not.toBeNull()

    // One new match is below the threshold of 2: the three old ones were counted toward the first.
    await send(project, [logEvent()])
    expect(await complaints(project, '?status=open')).toEqual([])
    await send(project, [logEvent()])
    const open = await complaints(project, '?status=open')
    expect(open).toHaveLength(1)
    expect(open[0]).toMatchObject({ occurrences: 2, status: 'open' })
    expect(open[0]!.id).not.toBe(first!.id)
    expect(await complaints(project)).toHaveLength(2)

    // Reopening the resolved one while another is open would make two: refused.
    const reopen = await sluice.request<{ code: string }>('PATCH', `/api/complaints/${first!.id}`, { key: project.query_key, body: { status: 'open' } })
    expect(reopen.status).toBe(409)
    expect(reopen.body.code).toBe('SLUICE_ERR_CONFLICT')
  })

  it('applies disable, enable and delete to every event acknowledged after the response', async () => {
    const project = await sluice.createProject()
    const rule = await createRule(project, { ...checkoutErrorRule, threshold: { count: 1 } })
    const disabled = await sluice.request<{ enabled: boolean }>('PATCH', `/api/reactions/${rule.id}`, { key: project.query_key, body: { enabled: false } })
    expect(disabled.body.enabled).toBe(false)
    await send(project, [logEvent(), logEvent()])
    expect(await complaints(project)).toEqual([])

    await sluice.request('PATCH', `/api/reactions/${rule.id}`, { key: project.query_key, body: { enabled: true } })
    await send(project, [logEvent()])
    const [complaint] = await complaints(project)
    expect(complaint!.occurrences).toBe(1)
    await sluice.request('PATCH', `/api/complaints/${complaint!.id}`, { key: project.query_key, body: { status: 'resolved' } })

    const del = await sluice.request('DELETE', `/api/reactions/${rule.id}`, { key: project.query_key })
    expect(del.status).toBe(204)
    await send(project, [logEvent(), logEvent()])
    expect(await complaints(project, '?status=open')).toEqual([])
    expect((await sluice.get(`/api/reactions/${project.id}`, { key: project.query_key })).body).toEqual([])
  })

  it('reacts to step drop rates and run durations (derived fields), grouped by step name', async () => {
    const project = await sluice.createProject()
    await createRule(project, {
      name: 'steps dropping most candidates',
      event_type: 'step_complete',
      conditions: [{ field: 'drop_rate', op: 'gt', value: 0.5 }],
      group_by: ['name'],
      severity: 'warning',
    })
    await createRule(project, {
      name: 'slow runs',
      event_type: 'run_complete',
      conditions: [
        { field: 'duration_ms', op: 'gte', value: 5000 },
        { field: 'status', op: 'eq', value: 'completed' },
      ],
    })
    const run = randomUUID()
    const t = Date.UTC(2026, 10, 22, 8, 0, 0)
    const step = (name: string, input: number, output: number) => ({
      id: randomUUID(),
      type: 'step_complete',
      data: { step_id: randomUUID(), run_id: run, name, type: 'filter', input_count: input, output_count: output },
    })
    await send(project, [
      { id: randomUUID(), type: 'run_start', data: { run_id: run, name: 'recs', started_at: new Date(t).toISOString() } },
      step('dedupe', 100, 90),
      step('rerank', 90, 10),
      step('rerank', 50, 5),
      step('filter', 10, 2),
      { id: randomUUID(), type: 'run_complete', data: { run_id: run, status: 'completed', completed_at: new Date(t + 6000).toISOString() } },
    ])
    const got = await complaints(project)
    const byTitle = Object.fromEntries(got.map((c) => [c.title, c]))
    expect(Object.keys(byTitle).sort()).toEqual(['slow runs', 'steps dropping most candidates (name=filter)', 'steps dropping most candidates (name=rerank)'])
    expect(byTitle['steps dropping most candidates (name=rerank)']).toMatchObject({ occurrences: 2, severity: 'warning', group: { name: 'rerank' } })
    expect(byTitle['slow runs']!.sample_event.data).toMatchObject({ duration_ms: 6000, status: 'completed' })
  })

  it('calls the webhook once per complaint, retrying a failing receiver with the same delivery id', async () => {
    const received: Array<{ headers: Record<string, string | string[] | undefined>; body: string; answered: number }> = []
    const server: Server = createServer((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => (body += c.toString()))
      req.on('end', () => {
        const answered = received.length === 0 ? 503 : 200
        received.push({ headers: req.headers, body, answered })
        res.writeHead(answered, answered === 503 ? { 'retry-after': '0' } : {}).end()
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const project = await sluice.createProject()
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/sluice`
      const rule = await createRule(project, {
        ...checkoutErrorRule,
        threshold: { count: 2, window_seconds: 60 },
        actions: [{ type: 'complaint' }, { type: 'webhook', url, secret: 'whsec_test_secret_123' }],
      })
      const events = [logEvent(), logEvent()]
      await send(project, events)
      const [complaint] = await complaints(project)
      const deliveries = await waitFor(async () => {
        const res = await sluice.get<Array<{ status: string; attempts: number }>>(`/api/complaints/${complaint!.id}/deliveries`, { key: project.query_key })
        return res.body.length === 1 && res.body[0]!.status === 'succeeded' ? res.body : null
      })
      expect(deliveries[0]).toMatchObject({ action: 'webhook', url, status: 'succeeded', attempts: 2, last_status_code: 200, next_attempt_at: null })

      expect(received.map((r) => r.answered)).toEqual([503, 200])
      const ids = received.map((r) => r.headers['x-sluice-delivery'])
      expect(ids[0]).toBe((deliveries[0] as unknown as { id: string }).id)
      expect(ids[1]).toBe(ids[0])
      for (const r of received) {
        expect(r.headers['x-sluice-event']).toBe('complaint.created')
        const check = verifyWebhookSignature('whsec_test_secret_123', r.body, String(r.headers['x-sluice-signature']), { toleranceSeconds: 300 })
        expect(check.ok).toBe(true)
        expect(verifyWebhookSignature('another-secret', r.body, String(r.headers['x-sluice-signature'])).ok).toBe(false)
      }
      const payload = JSON.parse(received[1]!.body)
      expect(payload).toMatchObject({
        event: 'complaint.created',
        project_id: project.id,
        reaction: { id: rule.id, name: checkoutErrorRule.name },
        complaint: { id: complaint!.id, occurrences: 2, status: 'open' },
      })

      // More matches and resends while the complaint is open: occurrences grow, no new webhook.
      await send(project, [logEvent(), ...events])
      expect((await complaints(project))[0]!.occurrences).toBe(3)
      // The dispatcher sends only what the outbox holds, and an outbox row is written in the same
      // transaction as its complaint: with the matches processed, one delivery row means no other
      // webhook can ever go out for them (no sleep needed to wait for one that is not coming).
      const after = await sluice.get<Array<{ id: string; status: string }>>(`/api/complaints/${complaint!.id}/deliveries`, { key: project.query_key })
      expect(after.body.map((d) => [d.id, d.status])).toEqual([[ids[0], 'succeeded']])
      expect(await complaints(project)).toHaveLength(1)
      expect(received).toHaveLength(2)
    } finally {
      await new Promise((r) => server.close(r))
    }
  })

  it('validates rules: unknown fields, bad ops, and patterns that cannot run in linear time', async () => {
    const project = await sluice.createProject()
    const post = (body: object) => sluice.post<{ code: string; message: string }>('/api/reactions', { key: project.query_key, body })
    const backref = await post({ ...checkoutErrorRule, conditions: [{ field: 'message', op: 'matches', value: '(a)\\1' }] })
    expect(backref.status).toBe(400)
    expect(backref.body.code).toBe('SLUICE_ERR_INVALID_CONDITION')
    const lookahead = await post({ ...checkoutErrorRule, conditions: [{ field: 'message', op: 'matches', value: 'pay(?=ment)' }] })
    expect(lookahead.status).toBe(400)
    const ok = await post({ ...checkoutErrorRule, conditions: [{ field: 'message', op: 'matches', value: '(?i)pay(ment)?\\s+time.?out' }] })
    expect(ok.status).toBe(201)
    expect((await post({ ...checkoutErrorRule, colour: 'red' })).body.code).toBe('SLUICE_ERR_VALIDATION')
    expect((await post({ ...checkoutErrorRule, conditions: [{ field: 'level', op: 'like', value: 'x' }] })).status).toBe(400)
    expect((await post({ ...checkoutErrorRule, conditions: [{ field: 'level', op: 'in', value: 'error' }] })).body.code).toBe('SLUICE_ERR_INVALID_CONDITION')
    expect((await post({ ...checkoutErrorRule, actions: [{ type: 'webhook', url: 'ftp://x' }] })).status).toBe(400)
    const created = await post({ ...checkoutErrorRule, actions: [{ type: 'webhook', url: 'https://hooks.example.com/sluice' }] })
    expect(created.status).toBe(201)
    expect((created.body as unknown as { actions: Array<{ secret: string }> }).actions[0]!.secret).toMatch(/^whsec_/)
  })

  it('treats another project\'s objects as missing (404) everywhere', async () => {
    const owner = await sluice.createProject()
    const stranger = await sluice.createProject()
    const rule = await createRule(owner, { ...checkoutErrorRule, threshold: { count: 1 } })
    await send(owner, [logEvent()])
    const [complaint] = await complaints(owner)
    const key = stranger.query_key
    const calls: Array<[string, string, object?]> = [
      ['GET', `/api/reactions/${owner.id}`],
      ['PATCH', `/api/reactions/${rule.id}`, { enabled: false }],
      ['DELETE', `/api/reactions/${rule.id}`],
      ['GET', `/api/complaints/${owner.id}`],
      ['GET', `/api/complaints/${complaint!.id}`],
      ['PATCH', `/api/complaints/${complaint!.id}`, { status: 'resolved' }],
      ['GET', `/api/complaints/${complaint!.id}/deliveries`],
      ['POST', '/api/reactions', { ...checkoutErrorRule, project_id: owner.id }],
    ]
    for (const [method, path, body] of calls) {
      const res = await sluice.request<{ code: string }>(method, path, { key, ...(body ? { body } : {}) })
      expect({ method, path, status: res.status, code: res.body.code }).toEqual({ method, path, status: 404, code: 'SLUICE_ERR_NOT_FOUND' })
    }
    // Nothing changed for the owner.
    const still = await sluice.get<Array<{ enabled: boolean }>>(`/api/reactions/${owner.id}`, { key: owner.query_key })
    expect(still.body.map((r) => r.enabled)).toEqual([true])
    expect((await complaints(owner))[0]!.status).toBe('open')
  })
})
