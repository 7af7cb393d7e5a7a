import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../lib/config.ts'
import { killAllSluiceChildren, spawnSluice, type ChildSluice } from '../test/helpers/child-sluice.ts'
import { sluiceClient, testEnv, type TestProject } from '../test/helpers/test-sluice.ts'

// SLUICE_INGEST_WORKERS: an ingest-only `server.ts` is a primary and its cluster workers on one
// port. What a client sees must not change: every request answered, /metrics the sum of all
// workers (not the share of whichever answered the scrape), and SIGTERM stops the whole tree.

function children(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number)
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

function metric(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `))
  return line === undefined ? Number.NaN : Number(line.split(' ').at(-1))
}

describe('ingest with SLUICE_INGEST_WORKERS=2', () => {
  let ingest: ChildSluice
  let api: ReturnType<typeof sluiceClient>
  let project: TestProject
  const env = testEnv({ SLUICE_INGEST_WORKERS: '2', SLUICE_TOPIC_EVENTS: `test.workers.${randomUUID()}` })

  beforeAll(async () => {
    ingest = await spawnSluice({ roles: ['ingest'], env })
    api = sluiceClient(ingest.url, loadConfig(env, { roles: ['ingest'] }))
    project = await api.createProject()
  })

  afterAll(async () => {
    await killAllSluiceChildren()
  })

  it('is one primary with two workers, and /metrics counts the requests of both', async () => {
    expect(children(ingest.pid)).toHaveLength(2)
    await ingest.waitForLog((l) => l.msg === 'ingest workers listening')

    const before = await api.get<string>('/metrics')
    const okBefore = metric(String(before.body), 'sluice_ingest_requests_total', 'outcome="ok"')
    const requests = 24
    const answers = await Promise.all(
      Array.from({ length: requests }, (_, i) =>
        api.post('/ingest', { key: project.ingest_key, body: { events: [{ type: 'log', data: { level: 'info', message: `worker ${i}` } }] } }),
      ),
    )
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: requests }, () => 200))
    // Both workers answered some (the request log names the process), or the sums prove nothing.
    const answeredBy = new Set(
      ingest
        .logs()
        .split('\n')
        .filter((l) => l.includes('"route":"/ingest"') && l.includes('"msg":"request"'))
        .map((l) => (JSON.parse(l) as { pid: number }).pid),
    )
    expect(answeredBy.size).toBe(2)

    // Whichever worker answers the scrape, the count is both workers' together.
    for (let scrape = 0; scrape < 4; scrape++) {
      const res = await api.get<string>('/metrics')
      expect(res.status).toBe(200)
      const text = String(res.body)
      expect(metric(text, 'sluice_ingest_requests_total', 'outcome="ok"') - (Number.isNaN(okBefore) ? 0 : okBefore)).toBe(requests)
      expect(metric(text, 'sluice_ingest_events_total', 'type="log",result="accepted"')).toBe(requests)
      // A gauge every worker sets alike is not summed.
      expect(metric(text, 'sluice_ready')).toBe(1)
    }
  })

  it('outlives a worker killed while scrapes are in flight: another worker takes its place', async () => {
    const [victim] = children(ingest.pid)
    const scrapes = Array.from({ length: 8 }, () => api.get<string>('/metrics').catch(() => null))
    process.kill(victim!, 'SIGKILL')
    await Promise.all(scrapes)
    // The primary forks a replacement after a second; the port never closes meanwhile.
    await expect.poll(() => children(ingest.pid).filter((pid) => pid !== victim).length, { timeout: 10_000, interval: 100 }).toBe(2)
    await ingest.waitForLog((l) => l.msg === 'ingest worker exited; starting another')
    for (let i = 0; i < 6; i++) {
      const res = await api.post('/ingest', { key: project.ingest_key, body: { events: [{ type: 'log', data: { level: 'info', message: `after ${i}` } }] } })
      expect(res.status).toBe(200)
      expect((await api.get<string>('/metrics')).status).toBe(200)
    }
  })

  it('SIGTERM stops the primary and every worker', async () => {
    const workers = children(ingest.pid)
    ingest.kill('SIGTERM')
    expect(await ingest.stopped).toBe(0)
    for (const pid of workers) expect(() => process.kill(pid, 0)).toThrow()
  })
})

describe('ingest with SLUICE_INGEST_WORKERS=2 when every worker dies at once', () => {
  let ingest: ChildSluice
  let api: ReturnType<typeof sluiceClient>
  let project: TestProject

  beforeAll(async () => {
    // A fixed port: node:cluster closes the port while no worker listens, and with PORT=0 the
    // next worker would get a new one.
    const env = testEnv({ SLUICE_INGEST_WORKERS: '2', SLUICE_TOPIC_EVENTS: `test.workers.${randomUUID()}`, PORT: String(await freePort()) })
    ingest = await spawnSluice({ roles: ['ingest'], env })
    api = sluiceClient(ingest.url, loadConfig(env, { roles: ['ingest'] }))
    project = await api.createProject()
    await ingest.waitForLog((l) => l.msg === 'ingest workers listening')
  })

  afterAll(async () => {
    await killAllSluiceChildren()
  })

  it('outlives every worker dying at once: says the port is closed, says how each died, and serves again', async () => {
    const victims = children(ingest.pid)
    expect(victims).toHaveLength(2)
    for (const pid of victims) process.kill(pid, 'SIGKILL')
    await ingest.waitForLog((l) => l.msg === 'no ingest worker is listening: connections are refused until a new one listens')
    const exits = () => ingest.logs().split('\n').filter((l) => l.includes('"msg":"ingest worker exited; starting another"')).map((l) => JSON.parse(l) as { pid: number; signal: string; livedMs: number })
    await expect.poll(() => exits().filter((e) => victims.includes(e.pid)).length, { timeout: 5_000 }).toBe(2)
    for (const e of exits().filter((x) => victims.includes(x.pid))) {
      expect(e.signal).toBe('SIGKILL')
      expect(e.livedMs).toBeGreaterThan(0)
    }
    await expect.poll(() => children(ingest.pid).filter((pid) => !victims.includes(pid)).length, { timeout: 15_000, interval: 100 }).toBe(2)
    await expect
      .poll(
        async () =>
          (await api.post('/ingest', { key: project.ingest_key, body: { events: [{ type: 'log', data: { level: 'info', message: 'back' } }] } }).catch(() => ({ status: 0 }))).status,
        { timeout: 30_000, interval: 200 },
      )
      .toBe(200)
  })
})
