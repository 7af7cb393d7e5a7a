import { randomUUID } from 'node:crypto'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEventCodec } from '../lib/avro/event-codec.ts'
import { generateRun, prng } from './fixtures/pipeline-runs.ts'
import { testServices } from './helpers/services.ts'
import { startTestSluice, type TestProject, type TestSluice } from './helpers/test-sluice.ts'

interface Seen {
  partition: number
  key: string
  headers: Record<string, string>
  value: Buffer
}

/** Reads every message of a topic from the start until `done` says enough (or the timeout). */
async function readTopic(kafka: Kafka, topic: string, done: (seen: Seen[]) => boolean, timeoutMs = 30_000): Promise<Seen[]> {
  const consumer = kafka.consumer({ groupId: `test-reader-${randomUUID()}` })
  const seen: Seen[] = []
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  let resolve!: () => void
  const finished = new Promise<void>((r) => (resolve = r))
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v)
      seen.push({ partition, key: message.key?.toString() ?? '', headers, value: message.value ?? Buffer.alloc(0) })
      if (done(seen)) resolve()
    },
  })
  const timer = setTimeout(resolve, timeoutMs)
  await finished
  clearTimeout(timer)
  await consumer.disconnect()
  return seen
}

describe('the path through Kafka', () => {
  let sluice: TestSluice
  let project: TestProject
  let kafka: Kafka

  beforeAll(async () => {
    sluice = await startTestSluice()
    project = await sluice.createProject()
    kafka = new Kafka({ brokers: testServices().kafkaBrokers, logLevel: logLevel.NOTHING })
  })

  afterAll(async () => {
    await sluice?.close()
  })

  it('writes acknowledged events as Avro, keyed by run, with the request id in the headers', async () => {
    const run = generateRun(prng(7), 'recs', Date.UTC(2026, 10, 1))
    const res = await sluice.post<{ processed: number }>('/ingest', {
      key: project.ingest_key,
      body: { events: run.events },
      headers: { 'x-request-id': 'req-kafka-path-1' },
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-request-id')).toBe('req-kafka-path-1')

    const seen = await readTopic(kafka, sluice.config.kafka.eventsTopic, (s) => s.length >= run.events.length)
    expect(seen).toHaveLength(run.events.length)
    // One run, one key, one partition: its events stay in order for one consumer.
    expect(new Set(seen.map((m) => m.key))).toEqual(new Set([run.run_id]))
    expect(new Set(seen.map((m) => m.partition)).size).toBe(1)
    expect(seen.every((m) => m.headers['x-request-id'] === 'req-kafka-path-1')).toBe(true)
    // Avro single-object encoding: C3 01 + 8-byte fingerprint.
    expect(seen.every((m) => m.value[0] === 0xc3 && m.value[1] === 0x01)).toBe(true)
    const codec = createEventCodec()
    const decoded = await Promise.all(seen.map((m) => codec.decode(m.value)))
    expect(decoded.map((e) => e.id)).toEqual(run.events.map((e) => e.id))
    expect(decoded.every((e) => e.project_id === project.id && e.request_id === 'req-kafka-path-1')).toBe(true)
  })

  it('parks an undecodable message on the dead-letter topic with its reason and keeps the partition moving', async () => {
    const producer = kafka.producer()
    await producer.connect()
    const run = generateRun(prng(8), 'recs', Date.UTC(2026, 10, 2))
    // Same key as the run, so the poison message sits in the same partition, before the run's events.
    await producer.send({
      topic: sluice.config.kafka.eventsTopic,
      acks: -1,
      messages: [
        { key: run.run_id, value: Buffer.from('definitely not avro'), headers: { 'x-request-id': 'poison-1' } },
        { key: run.run_id, value: Buffer.from([0xc3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9]) },
      ],
    })
    await producer.disconnect()
    const res = await sluice.post('/ingest', { key: project.ingest_key, body: { events: run.events } })
    expect(res.status).toBe(200)
    await sluice.waitUntilProcessed()

    const analysis = await sluice.get<{ run: { status: string } }>(`/analyze/${run.run_id}`, { key: project.query_key })
    expect(analysis.status).toBe(200)
    expect(analysis.body.run.status).toBe(run.status.toUpperCase())

    // Each processor parks what it could not read, saying which it is (runs-funnel and logs share a
    // group's fetch, and each parks the message under its own name all the same).
    const letters = await readTopic(kafka, sluice.config.kafka.deadLetterTopic, (s) => s.length >= 6)
    expect(letters).toHaveLength(6)
    for (const processor of ['logs', 'reactions', 'runs-funnel']) {
      const mine = letters.filter((l) => l.headers['x-sluice-dlq-processor'] === processor)
      expect(mine.map((l) => l.headers['x-sluice-dlq-reason']).sort()).toEqual(['bad_magic', 'unknown_fingerprint'])
    }
    expect(letters.find((l) => l.headers['x-request-id'] === 'poison-1')?.value.toString()).toBe('definitely not avro')
    expect(letters.every((l) => l.headers['x-sluice-source-topic'] === sluice.config.kafka.eventsTopic)).toBe(true)

    const metrics = await sluice.get<string>('/metrics')
    expect(metrics.body).toMatch(/sluice_dead_letter_total\{processor="runs-funnel",reason="bad_magic"\} 1/)
  })

  it('reports lag 0 for every partition once everything acknowledged is processed', async () => {
    await sluice.waitUntilProcessed()
    const lag = await sluice.get<Array<{ group: string; topic: string; partition: number; lag: number; end_offset: number }>>(
      '/api/ops/lag',
      { key: 'test-admin-token-0123456789' },
    )
    expect(lag.status).toBe(200)
    // runs-funnel and logs read one group's fetches; the logs group of older versions is retired.
    const { runsFunnelGroup, reactionsGroup } = sluice.config.processor
    const expectedRows = [reactionsGroup, runsFunnelGroup].sort().flatMap((group) => [0, 1, 2].map((partition) => ({ group, partition })))
    expect(lag.body.map((r) => ({ group: r.group, partition: r.partition }))).toEqual(expectedRows)
    expect(lag.body.every((r) => r.lag === 0)).toBe(true)
    expect(lag.body.reduce((a, r) => a + r.end_offset, 0)).toBeGreaterThan(0)
    const metrics = await sluice.get<string>('/metrics')
    expect(metrics.body).toContain(`kafka_consumergroup_lag{group="${sluice.config.processor.runsFunnelGroup}"`)
  })
})
