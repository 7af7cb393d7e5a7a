/**
 * Issue "reliability": one tenant's event that decodes but cannot be stored must not hold up the
 * partition for everyone (it is dead-lettered after 3 attempts alone), and a store that is down
 * must be waited for, dead-lettering nothing.
 */
import { randomUUID } from 'node:crypto'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, describe, expect, it } from 'vitest'
import { createEventCodec } from '../lib/avro/event-codec.ts'
import type { EventEnvelope } from '../lib/event-types.ts'
import { EVENT_TYPE_HEADER } from '../lib/kafka/headers.ts'
import { testServices } from './helpers/services.ts'
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.ts'
import { waitFor } from './helpers/wait-for.ts'
import { ADMIN_TOKEN, startTestSluice, testEnv, type TestSluice } from './helpers/test-sluice.ts'

const errorRule = {
  name: 'any error',
  event_type: 'log',
  conditions: [{ field: 'level', op: 'eq', value: 'error' }],
  threshold: { count: 1 },
  actions: [{ type: 'complaint' }],
}

const errorLog = (message: string) => ({ id: randomUUID(), type: 'log', data: { level: 'error', message, service: 'checkout' } })


async function deadLetters(kafka: Kafka, topic: string): Promise<Array<{ headers: Record<string, string>; key: string }>> {
  const admin = kafka.admin()
  await admin.connect()
  const offsets = await admin.fetchTopicOffsets(topic)
  await admin.disconnect()
  const total = offsets.reduce((n, o) => n + Number(o.high), 0)
  if (total === 0) return []
  const consumer = kafka.consumer({ groupId: `test-dlq-reader-${randomUUID()}` })
  const out: Array<{ headers: Record<string, string>; key: string }> = []
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {}
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v)
        out.push({ headers, key: message.key?.toString() ?? '' })
        if (out.length >= total) resolve()
      },
    })
  })
  await consumer.disconnect()
  return out
}

describe('a poison message in the reactions processor', () => {
  const kafka = new Kafka({ brokers: testServices().kafkaBrokers, logLevel: logLevel.NOTHING })
  let sluice: TestSluice

  afterAll(async () => {
    await sluice?.close()
  })

  it('is dead-lettered with its reason while another tenant on the same partition gets its complaint', async () => {
    // One partition: both tenants' events share it, the poison first.
    sluice = await startTestSluice({ env: { SLUICE_TOPIC_PARTITIONS: '1' } })
    const a = await sluice.createProject()
    const b = await sluice.createProject()
    for (const p of [a, b]) expect((await sluice.post('/api/reactions', { key: p.query_key, body: errorRule })).status).toBe(201)

    // An event that decodes but that Postgres cannot hold (NUL in a jsonb sample), as an older or
    // foreign producer could write it; /ingest itself never lets one through.
    const codec = createEventCodec({})
    const poison = {
      id: randomUUID(), project_id: a.id, type: 'log', timestamp: Date.now(), received_at: Date.now(), request_id: null,
      payload: { level: 'error', message: 'bad \u0000 byte', service: 'checkout', attributes: {}, run_id: null },
    } as EventEnvelope
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({
      topic: sluice.config.kafka.eventsTopic,
      acks: -1,
      messages: [{ key: poison.id, value: await codec.encode(poison), headers: { [EVENT_TYPE_HEADER]: 'log' } }],
    })
    await producer.disconnect()
    expect((await sluice.post('/ingest', { key: b.ingest_key, body: { events: [errorLog('payment failed')] } })).status).toBe(200)

    await sluice.waitUntilProcessed(60_000)
    const complaints = await sluice.get<Array<{ occurrences: number }>>(`/api/complaints/${b.id}`, { key: b.query_key })
    expect(complaints.body).toHaveLength(1)
    expect(complaints.body[0]!.occurrences).toBe(1)
    expect((await sluice.get<unknown[]>(`/api/complaints/${a.id}`, { key: a.query_key })).body).toEqual([])

    const letters = await deadLetters(kafka, sluice.config.kafka.deadLetterTopic)
    expect(letters).toHaveLength(1)
    expect(letters[0]!.key).toBe(poison.id)
    expect(letters[0]!.headers).toMatchObject({
      'x-sluice-dlq-processor': 'reactions',
      'x-sluice-dlq-reason': 'processing_failed',
      'x-sluice-source-offset': '0',
    })
    expect(letters[0]!.headers['x-sluice-dlq-error']).toMatch(/Unicode|\\u0000|22P05/i)
    const metrics = await sluice.get<string>('/metrics')
    expect(metrics.body).toMatch(/sluice_dead_letter_total\{processor="reactions",reason="processing_failed"\} 1/)
    // The logs processor stored it (ClickHouse holds NUL): only the processor that failed parks it.
    const logs = await sluice.get<Array<{ id: string }>>('/api/logs', { key: a.query_key })
    expect(logs.body.map((l) => l.id)).toEqual([poison.id])

    // Listed for the operator, with what it was.
    // (Every test shares one Postgres: only this test's topic counts.)
    const ours = async () => {
      const res = await sluice.get<Array<Record<string, unknown>>>('/api/ops/dead-letters?limit=1000', { key: ADMIN_TOKEN })
      expect(res.status).toBe(200)
      return { ...res, body: res.body.filter((d) => d.topic === sluice.config.kafka.eventsTopic) }
    }
    const listed = await ours()
    expect(listed.body).toHaveLength(1)
    expect(listed.body[0]).toMatchObject({
      id: letters[0]!.headers['x-sluice-dlq-id'],
      topic: sluice.config.kafka.eventsTopic,
      partition: 0,
      offset: 0,
      processor: 'reactions',
      reason: 'processing_failed',
      project_id: a.id,
      event_id: poison.id,
      event_type: 'log',
      replayed_at: null,
    })
    expect(listed.body[0]!.size).toBeGreaterThan(0)
    expect((await sluice.get('/api/ops/dead-letters', { key: a.query_key })).status).toBe(403)
    expect((await sluice.get('/api/ops/dead-letters?cursor=abc', { key: ADMIN_TOKEN })).status).toBe(400)

    // Replayed: back on the events topic; the logs processor takes it as a resend (one log still),
    // the reactions processor fails on it again and parks the replay, which names its origin.
    const id = listed.body[0]!.id as string
    const replayRequest = `replay-${randomUUID()}`
    const unknown = await sluice.post('/api/ops/dead-letters/replay', { key: ADMIN_TOKEN, body: { ids: [randomUUID()] } })
    expect(unknown.status).toBe(404)
    const replay = await sluice.post<{ replayed: number }>('/api/ops/dead-letters/replay', { key: ADMIN_TOKEN, body: { ids: [id] }, headers: { 'x-request-id': replayRequest } })
    expect(replay.status).toBe(200)
    expect(replay.body).toEqual({ replayed: 1 })
    expect((await sluice.post<{ replayed: number }>('/api/ops/dead-letters/replay', { key: ADMIN_TOKEN, body: { ids: [id] } })).body).toEqual({ replayed: 0 })
    await sluice.waitUntilProcessed(60_000)
    expect((await sluice.get<Array<{ id: string }>>('/api/logs', { key: a.query_key })).body.map((l) => l.id)).toEqual([poison.id])
    const after = await deadLetters(kafka, sluice.config.kafka.deadLetterTopic)
    expect(after).toHaveLength(2)
    expect(after[1]!.headers).toMatchObject({ 'x-sluice-replay-of': id, 'x-sluice-dlq-processor': 'reactions', 'x-sluice-source-offset': '2' })
    const relisted = await ours()
    expect(relisted.body).toHaveLength(2)
    expect(relisted.body.find((d) => d.id === id)!.replayed_at).not.toBeNull()
    // Newest first: the replay's own dead letter leads.
    expect(relisted.body[0]!.offset).toBe(2)
    const audit = await sluice.get<Array<{ action: string; request_id: string; changes: { replayed: number } }>>('/api/audit?action=dead_letter.replayed', { key: ADMIN_TOKEN })
    expect(audit.body.filter((r) => r.request_id === replayRequest)).toHaveLength(1)
    expect(audit.body.find((r) => r.request_id === replayRequest)!.changes).toMatchObject({ replayed: 1 })
  })
})

describe('a store that is down', () => {
  let proxy: TcpProxy
  let ingest: TestSluice
  let processor: TestSluice

  afterAll(async () => {
    await processor?.close()
    await ingest?.close()
    await proxy?.close()
  })

  it('is waited for: nothing is dead-lettered and every match counts once it is back', async () => {
    const direct = new URL(testServices().databaseUrl)
    proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port) })
    const env = testEnv()
    ingest = await startTestSluice({ roles: ['ingest'], env })
    processor = await startTestSluice({
      roles: ['processor', 'query'],
      env: { ...env, DATABASE_URL: proxy.url(testServices().databaseUrl), SLUICE_PROCESSOR_STALL_SECONDS: '2' },
    })

    const project = await ingest.createProject()
    expect((await processor.post('/api/reactions', { key: project.query_key, body: { ...errorRule, threshold: { count: 3, window_seconds: 300 } } })).status).toBe(201)

    await proxy.down()
    const res = await ingest.post('/ingest', { key: project.ingest_key, body: { events: [errorLog('a'), errorLog('b'), errorLog('c')] } })
    expect(res.status).toBe(200)

    // While Postgres is unreachable the reactions group does not move and /ready says so.
    await new Promise((r) => setTimeout(r, 4_000))
    const lag = await ingest.get<Array<{ group: string; lag: number }>>('/api/ops/lag', { key: ADMIN_TOKEN })
    const reactionsLag = lag.body.filter((r) => r.group === env.SLUICE_REACTIONS_GROUP).reduce((n, r) => n + r.lag, 0)
    expect(reactionsLag).toBe(3)
    const ready = await processor.get<{ checks: Record<string, string>; processors: Array<{ processor: string; state: string; lag: number }> }>('/ready')
    expect(ready.status).toBe(503)
    expect(ready.body.checks.postgres).toMatch(/^error/)
    // Messages wait and nothing was committed for longer than the stall limit: the group is stalled.
    expect(ready.body.processors.find((p) => p.processor === 'reactions')).toMatchObject({ state: 'stalled', lag: 3 })
    expect(ready.body.processors.find((p) => p.processor === 'runs-funnel')).toMatchObject({ state: 'ok' })
    expect((await processor.get<string>('/metrics')).body).not.toMatch(/sluice_dead_letter_total\{/)

    await proxy.up()
    await ingest.waitUntilProcessed(60_000)
    const complaints = await waitFor(async () => {
      const r = await processor.get<Array<{ occurrences: number }>>(`/api/complaints/${project.id}`, { key: project.query_key })
      return r.status === 200 && r.body.length > 0 ? r.body : null
    })
    expect(complaints).toHaveLength(1)
    expect(complaints[0]!.occurrences).toBe(3)
    expect((await processor.get<string>('/metrics')).body).not.toMatch(/sluice_dead_letter_total\{/)
    const after = await processor.get<{ processors: Array<{ state: string }> }>('/ready')
    expect(after.status).toBe(200)
    expect(after.body.processors.map((p) => p.state)).toEqual(['ok', 'ok', 'ok'])
  })
})
