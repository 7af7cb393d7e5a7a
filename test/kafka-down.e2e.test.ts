/**
 * Issue "reliability", faults of every dependency: the Kafka broker down for 15 s during ingest.
 * A broker of this test's own (scripts/kafka-up.sh on free ports, its own state directory), so the
 * broker every other test shares keeps running. While it is down /ingest answers 503 with
 * Retry-After; once it is back, ingest takes events again and the processors resume by themselves;
 * every acknowledged event is stored, none twice.
 */
import { spawn } from 'node:child_process'
import { afterAll, describe, expect, it } from 'vitest'
import { generateRun, prng } from './fixtures/pipeline-runs.ts'
import { freePort } from './helpers/free-port.ts'
import { ADMIN_TOKEN, startTestSluice, type TestSluice } from './helpers/test-sluice.ts'


function script(name: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [`scripts/${name}`, 'kafka'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${name} exited ${code}:\n${err}`))))
  })
}

describe('Kafka down for 15 s', () => {
  let sluice: TestSluice | undefined
  let brokerEnv: Record<string, string> | undefined

  afterAll(async () => {
    await sluice?.close().catch(() => {})
    if (brokerEnv) await script('services-down.sh', brokerEnv).catch(() => {})
  })

  it('answers 503 with Retry-After while it is down, loses no acknowledged event, and resumes by itself', async () => {
    brokerEnv = { SLUICE_KAFKA_PORT: String(await freePort()), SLUICE_KAFKA_CONTROLLER_PORT: String(await freePort()) }
    const up = await script('kafka-up.sh', brokerEnv)
    const brokers = /KAFKA_BROKERS=(\S+)/.exec(up)?.[1]
    expect(brokers).toBe(`127.0.0.1:${brokerEnv.SLUICE_KAFKA_PORT}`)
    sluice = await startTestSluice({ env: { KAFKA_BROKERS: brokers!, SLUICE_PRODUCE_TIMEOUT_MS: '2000' } })
    const project = await sluice.createProject()
    const rand = prng(15)
    const acknowledged = new Set<string>()
    const send = async () => {
      const run = generateRun(rand, 'kafka-down', Date.UTC(2026, 11, 1, 9) + acknowledged.size * 1000)
      const res = await sluice!.post('/ingest', { key: project.ingest_key, body: { events: run.events } })
      if (res.status === 200) acknowledged.add(run.run_id)
      return res
    }
    expect((await send()).status).toBe(200)

    await script('services-down.sh', brokerEnv)
    const downSince = Date.now()
    const refused: Array<{ status: number; retryAfter: string | null; code: unknown }> = []
    while (Date.now() - downSince < 15_000) {
      const res = await send()
      refused.push({ status: res.status, retryAfter: res.headers.get('retry-after'), code: (res.body as { code?: unknown }).code })
      await new Promise((r) => setTimeout(r, 500))
    }
    expect(refused.length).toBeGreaterThan(3)
    expect(refused.filter((r) => r.status !== 503 || !r.retryAfter || r.code !== 'SLUICE_ERR_BROKER_UNAVAILABLE')).toEqual([])

    await script('kafka-up.sh', brokerEnv)
    const deadline = Date.now() + 60_000
    while ((await send()).status !== 200) {
      if (Date.now() > deadline) throw new Error('ingest did not recover within 60 s of the broker coming back')
      await new Promise((r) => setTimeout(r, 500))
    }
    for (let i = 0; i < 3; i++) expect((await send()).status).toBe(200)

    await sluice.waitUntilProcessed(120_000)
    const runs = await sluice.get<Array<{ id: string; step_count: number }>>('/runs?name=kafka-down&limit=1000', { key: project.query_key })
    expect(runs.body.map((r) => r.id).sort()).toEqual([...acknowledged].sort())
    expect(runs.body.every((r) => r.step_count === 5)).toBe(true)
    expect((await sluice.get('/api/ops/lag', { key: ADMIN_TOKEN })).status).toBe(200)
  }, 240_000)
})
