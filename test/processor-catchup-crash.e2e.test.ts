/**
 * Issue "processors keep up": a processor SIGKILLed twice during a large catch-up (a backlog it
 * drains in many fetches, each flushed whole across partitions) counts every run and step exactly
 * once when it is done, and lists every log once (logs ride the runs-funnel group's fetches).
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toKafkaMessages, type BenchEvent, type LogEvent } from '../bench/support/workload.ts'
import { createEventCodec } from '../lib/avro/event-codec.ts'
import { loadConfig } from '../lib/config.ts'
import { createEventProducer } from '../lib/kafka/event-producer.ts'
import { expectedAnalysis, expectedPipelineFunnel, generateRun, prng, shuffledBatches, type GeneratedRun } from './fixtures/pipeline-runs.ts'
import { expectAnalysis, expectFunnel } from './helpers/expect-funnel.ts'
import { killAllSluiceChildren, spawnSluice, type ChildSluice } from './helpers/child-sluice.ts'
import { testServices } from './helpers/services.ts'
import { ADMIN_TOKEN, sluiceClient, startTestSluice, testEnv, type TestProject, type TestSluice } from './helpers/test-sluice.ts'

const SEED = 20261201
const RUN_COUNT = 3_000 // × 7 events and a log, plus 10 % resent: ~26,000 messages
const HOUR = 3_600_000

describe('a catch-up SIGKILLed twice', () => {
  const rand = prng(SEED)
  const base = Math.floor(Date.UTC(2026, 10, 30, 6, 0, 0) / HOUR) * HOUR
  const runs: GeneratedRun[] = Array.from({ length: RUN_COUNT }, (_, i) => generateRun(rand, 'catchup', base + i * 4_000 + 321))
  // One log per run, on the run's partition, among its events.
  const logs: LogEvent[] = runs.map((r, i) => ({
    id: randomUUID(),
    type: 'log',
    timestamp: new Date(r.started_at + 10).toISOString(),
    data: { level: i % 10 === 0 ? 'error' : 'info', message: `run ${i} logged`, service: 'catchup', attributes: { i }, run_id: r.run_id },
  }))
  const batches = shuffledBatches([...runs.flatMap((r) => r.events), ...logs] as unknown as Parameters<typeof shuffledBatches>[0], rand, 500, 0.1) as unknown as BenchEvent[][]
  let env: Record<string, string>
  let chdbDir: string
  let ingest: TestSluice
  let project: TestProject
  let processor: ChildSluice
  let queryApi: TestSluice
  const kills: number[] = []
  let total = 0

  async function committed(): Promise<{ committed: number; lag: number }> {
    const res = await ingest.get<Array<{ group: string; committed_offset: number; lag: number }>>('/api/ops/lag', { key: ADMIN_TOKEN })
    const rows = res.body.filter((r) => r.group === env.SLUICE_RUNS_FUNNEL_GROUP)
    return { committed: rows.reduce((n, r) => n + r.committed_offset, 0), lag: rows.length === 0 ? total : rows.reduce((n, r) => n + r.lag, 0) }
  }

  async function waitFor(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  async function startProcessor(): Promise<void> {
    processor = await spawnSluice({ roles: ['processor', 'query'], env })
    queryApi = sluiceClient(processor.url, loadConfig(env, { roles: ['processor', 'query'] }))
  }

  beforeAll(async () => {
    chdbDir = mkdtempSync(join(tmpdir(), 'sluice-catchup-'))
    // Small fetches, so the backlog takes many flushes and a kill lands between two of them.
    env = testEnv({ SLUICE_CHDB_PATH: chdbDir, SLUICE_PROCESSOR_MAX_FETCH_BYTES: String(192 * 1024), SLUICE_PROCESSOR_MAX_BATCH_BYTES: String(64 * 1024) })
    ingest = await startTestSluice({ roles: ['ingest'], env })
    project = await ingest.createProject()

    // The backlog goes straight to the topic, as /ingest would produce it.
    const kafka = new Kafka({ brokers: testServices().kafkaBrokers, logLevel: logLevel.NOTHING })
    const producer = createEventProducer(kafka, { timeoutMs: 30_000 })
    const codec = createEventCodec({})
    for (const batch of batches) {
      await producer.send(env.SLUICE_TOPIC_EVENTS!, await toKafkaMessages(batch, codec, project.id))
      total += batch.length
    }
    await producer.disconnect()

    for (const share of [0.2, 0.55]) {
      await startProcessor()
      await waitFor(async () => (await committed()).committed >= total * share, 90_000, `${share * 100} % committed`)
      processor.kill('SIGKILL')
      await processor.stopped
      const c = await committed()
      kills.push(c.committed)
      console.info(`[catchup-crash] killed at ${c.committed} of ${total} committed`)
    }
    await startProcessor()
    await waitFor(async () => (await committed()).lag === 0, 120_000, 'the runs-funnel group to catch up')
  }, 300_000)

  afterAll(async () => {
    await killAllSluiceChildren()
    await ingest?.close()
    if (chdbDir) rmSync(chdbDir, { recursive: true, force: true })
  })

  it('was killed twice with part of the backlog committed', () => {
    expect(kills).toHaveLength(2)
    expect(kills[0]!).toBeGreaterThan(0)
    expect(kills[1]!).toBeGreaterThan(kills[0]!)
    expect(kills[1]!).toBeLessThan(total)
  })

  it('counts every step of every run once in the pipeline funnel', async () => {
    const res = await queryApi.get<any[]>('/pipelines/catchup/funnel', { key: project.query_key })
    expect(res.status).toBe(200)
    expectFunnel(res.body, expectedPipelineFunnel(runs))
  })

  it('lists every run once with its five steps', async () => {
    const seen: Array<{ id: string; step_count: number }> = []
    let path: string | null = '/runs?name=catchup&limit=1000'
    while (path) {
      const res: { status: number; headers: Headers; body: typeof seen } = await queryApi.get<typeof seen>(path, { key: project.query_key })
      expect(res.status).toBe(200)
      seen.push(...res.body)
      path = /<([^>]+)>; rel="next"/.exec(res.headers.get('link') ?? '')?.[1] ?? null
    }
    expect(new Set(seen.map((r) => r.id)).size).toBe(RUN_COUNT)
    expect(seen).toHaveLength(RUN_COUNT)
    expect(seen.every((r) => r.step_count === 5)).toBe(true)
  })

  it('lists every log once', async () => {
    const seen: string[] = []
    let path: string | null = `/api/logs?service=catchup&limit=1000&from=${new Date(base - HOUR).toISOString()}&to=${new Date(base + 2 * 24 * HOUR).toISOString()}`
    while (path) {
      const res: { status: number; headers: Headers; body: Array<{ id: string }> } = await queryApi.get<Array<{ id: string }>>(path, { key: project.query_key })
      expect(res.status).toBe(200)
      seen.push(...res.body.map((l) => l.id))
      path = /<([^>]+)>; rel="next"/.exec(res.headers.get('link') ?? '')?.[1] ?? null
    }
    expect(seen).toHaveLength(logs.length)
    expect(new Set(seen)).toEqual(new Set(logs.map((l) => l.id)))
  })

  it('answers /analyze with every number of a sample of runs', async () => {
    const pick = prng(SEED + 1)
    for (let i = 0; i < 20; i++) {
      const run = runs[Math.floor(pick() * runs.length)]!
      const res = await queryApi.get<Record<string, any>>(`/analyze/${run.run_id}`, { key: project.query_key })
      expect(res.status).toBe(200)
      expectAnalysis(res.body, expectedAnalysis(run))
    }
  })
})
