import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Sluice, type DropReport, type SluiceOptions } from '../src/index.ts'
import { startFakeIngest, type FakeIngest } from './helpers/fake-ingest.ts'

// Delivery against a local HTTP server the test controls. Intervals and backoffs are short.

let server: FakeIngest
const clients: Sluice[] = []

beforeEach(async () => {
  server = await startFakeIngest()
})

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.shutdown(200)))
  await server.close()
})

function client(options: Partial<SluiceOptions> = {}): Sluice {
  const c = new Sluice({
    endpoint: server.url,
    apiKey: 'ingest-key',
    flushAt: 1_000_000,
    flushIntervalMs: 1_000_000,
    retryBaseMs: 1,
    retryMaxMs: 5,
    flushOnExit: false,
    ...options,
  })
  clients.push(c)
  return c
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function logs(c: Sluice, n: number, message = 'm'): void {
  for (let i = 0; i < n; i++) c.log({ level: 'info', message: `${message} ${i}` })
}

describe('batching', () => {
  it('sends as soon as flushAt events are queued, and not before', async () => {
    const c = client({ flushAt: 5 })
    logs(c, 4)
    await sleep(50)
    expect(server.requests).toHaveLength(0)
    logs(c, 1)
    await server.waitForRequests(1)
    expect(server.requests[0]!.events).toHaveLength(5)
    logs(c, 3)
    await sleep(50)
    expect(server.requests).toHaveLength(1)
    await c.flush()
    expect(server.requests.map((r) => r.events.length)).toEqual([5, 3])
  })

  it('sends once maxBatchBytes of JSON are queued, each request within it', async () => {
    const c = client({ maxBatchBytes: 2000 })
    const message = 'x'.repeat(300)
    for (let i = 0; i < 20; i++) c.log({ level: 'info', message })
    await server.waitForRequests(2)
    await c.flush()
    expect(server.requests.flatMap((r) => r.events)).toHaveLength(20)
    for (const r of server.requests) expect(r.jsonBytes).toBeLessThanOrEqual(2000)
    expect(server.requests.length).toBeGreaterThanOrEqual(4)
  })

  it('sends what is queued after flushIntervalMs', async () => {
    const c = client({ flushIntervalMs: 60 })
    const t0 = performance.now()
    logs(c, 3)
    await server.waitForRequests(1, 2000)
    const waited = server.requests[0]!.at - t0
    expect(waited).toBeGreaterThanOrEqual(50)
    expect(waited).toBeLessThan(1000)
    expect(server.requests[0]!.events).toHaveLength(3)
  })

  it('gzips the body and authenticates with the ingest key', async () => {
    const c = client()
    logs(c, 2)
    await c.flush()
    const { headers, url, method } = server.requests[0]!
    expect([method, url]).toEqual(['POST', '/ingest'])
    expect(headers['content-encoding']).toBe('gzip')
    expect(headers['content-type']).toBe('application/json')
    expect(headers.authorization).toBe('Bearer ingest-key')
    expect(headers['user-agent']).toMatch(/^sluice-sdk-typescript\/\d+\.\d+\.\d+ node\/v\d+/)
  })

  it('sends plain JSON with gzip: false, to <endpoint>/ingest whatever the trailing slashes', async () => {
    const c = new Sluice({ endpoint: `${server.url}//`, apiKey: 'k', gzip: false, flushOnExit: false })
    clients.push(c)
    logs(c, 1)
    await c.flush()
    expect(server.requests[0]!.url).toBe('/ingest')
    expect(server.requests[0]!.headers['content-encoding']).toBeUndefined()
    expect(server.requests[0]!.events).toHaveLength(1)
  })

  it('flush() while events keep coming resolves once the earlier ones are settled', async () => {
    server.setResponder(async () => {
      await sleep(5)
      return { status: 200 }
    })
    const c = client({ flushAt: 10 })
    logs(c, 25)
    const flushed = c.flush()
    const more = setInterval(() => logs(c, 5), 1)
    await flushed
    clearInterval(more)
    const sent = server.requests.flatMap((r) => r.events.map((e) => e.data.message))
    for (let i = 0; i < 25; i++) expect(sent).toContain(`m ${i}`)
  })
})

describe('retries', () => {
  it('retries a 503 after its Retry-After, with the same event ids', async () => {
    server.setResponder((_r, i) => (i === 0 ? { status: 503, headers: { 'retry-after': '0.3' } } : { status: 200 }))
    const c = client({ retryMaxMs: 5000 })
    logs(c, 3)
    await c.flush()
    expect(server.requests).toHaveLength(2)
    expect(server.requests[1]!.at - server.requests[0]!.at).toBeGreaterThanOrEqual(280)
    expect(server.ids()[1]).toEqual(server.ids()[0])
    expect(c.stats()).toMatchObject({ sent: 3, retries: 1, requests: 2 })
  })

  it('caps a Retry-After at retryMaxMs', async () => {
    server.setResponder((_r, i) => (i === 0 ? { status: 429, headers: { 'retry-after': '3600' } } : { status: 200 }))
    const c = client({ retryMaxMs: 50 })
    logs(c, 1)
    const t0 = performance.now()
    await c.flush()
    expect(performance.now() - t0).toBeLessThan(1000)
    expect(c.stats().sent).toBe(1)
  })

  it('retries when the server cannot be reached, then gives up and reports it', async () => {
    const reports: DropReport[] = []
    const c = new Sluice({
      endpoint: 'http://127.0.0.1:9', // discard port: nothing listens
      apiKey: 'k',
      maxRetries: 2,
      retryBaseMs: 1,
      retryMaxMs: 5,
      flushOnExit: false,
      onDrop: (r) => reports.push(r),
    })
    clients.push(c)
    logs(c, 2)
    await c.flush()
    expect(reports).toHaveLength(1)
    expect(reports[0]).toMatchObject({ reason: 'retries_exhausted', events: [{ type: 'log' }, { type: 'log' }] })
    expect(reports[0]!.message).toMatch(/gave up after 3 attempts/)
    expect(c.stats()).toMatchObject({ requests: 3, retries: 2, sent: 0 })
  })

  it('retries a request that timed out', async () => {
    server.setResponder((_r, i) => (i === 0 ? { status: 200, hang: true } : { status: 200 }))
    const c = client({ requestTimeoutMs: 100 })
    logs(c, 1)
    await c.flush()
    expect(server.requests).toHaveLength(2)
    expect(c.stats()).toMatchObject({ sent: 1, retries: 1 })
  })
})

describe('server answers', () => {
  it('a 207 drops and reports only the events it names', async () => {
    server.setResponder((req) => ({
      status: 207,
      body: {
        status: 'partial',
        processed: 2,
        errors: [{ index: 1, id: req.events[1]!.id, code: 'SLUICE_ERR_INVALID_EVENT', message: 'data.level: must be debug, ...' }],
      },
    }))
    const reports: DropReport[] = []
    const c = client({ onDrop: (r) => reports.push(r) })
    c.log({ level: 'info', message: 'a' })
    c.log({ level: 'nonsense' as 'info', message: 'b' })
    c.log({ level: 'info', message: 'c' })
    await c.flush()
    expect(reports).toEqual([
      {
        reason: 'rejected',
        status: 207,
        message: 'Sluice refused 1 of 3 events',
        events: [{ id: server.ids()[0]![1], type: 'log', code: 'SLUICE_ERR_INVALID_EVENT', message: 'data.level: must be debug, ...' }],
      },
    ])
    expect(c.stats()).toMatchObject({ sent: 2, requests: 1 })
  })

  it('a 413 splits the batch until each part fits', async () => {
    // The server takes at most 2 events a request.
    server.setResponder((req) => (req.events.length > 2 ? { status: 413 } : { status: 200 }))
    const c = client()
    logs(c, 7)
    await c.flush()
    expect(server.requests.map((r) => r.events.length)).toEqual([7, 4, 2, 2, 3, 2, 1])
    expect(c.stats()).toMatchObject({ sent: 7, retries: 0 })
  })

  it('an error thrown by onDrop goes nowhere', async () => {
    server.setResponder(() => ({ status: 401 }))
    const c = client({
      onDrop: () => {
        throw new Error('user bug')
      },
    })
    logs(c, 1)
    await c.flush()
    expect(c.stats().dropped.client_error).toBe(1)
  })
})

describe('queue', () => {
  it('drops the oldest events past maxQueueSize and counts them', async () => {
    const c = client({ maxQueueSize: 10 })
    logs(c, 25)
    expect(c.stats()).toMatchObject({ queued: 10, dropped: { queue_overflow: 15 } })
    await c.flush()
    expect(server.requests[0]!.events.map((e) => e.data.message)).toEqual(Array.from({ length: 10 }, (_, i) => `m ${i + 15}`))
  })

  it('keeps recording while a batch waits to be retried, within its bounds', async () => {
    server.setResponder(() => ({ status: 503, headers: { 'retry-after': '0.05' } }))
    // One request: the others would take events off the queue while the first waits.
    const c = client({ maxQueueSize: 5, flushAt: 1, maxRetries: 100, retryMaxMs: 50, maxInFlight: 1 })
    logs(c, 1)
    await server.waitForRequests(1)
    logs(c, 20)
    expect(c.stats()).toMatchObject({ queued: 5, inFlight: 1, dropped: { queue_overflow: 15 } })
    server.setResponder(() => ({ status: 200 }))
    await c.flush()
    expect(c.stats()).toMatchObject({ sent: 6, queued: 0, inFlight: 0 })
  })
})

describe('shutdown', () => {
  it('flushes what is queued, then drops what comes after', async () => {
    const reports: DropReport[] = []
    const c = client({ onDrop: (r) => reports.push(r) })
    logs(c, 3)
    expect(await c.shutdown()).toBe(true)
    expect(server.requests.flatMap((r) => r.events)).toHaveLength(3)
    c.log({ level: 'info', message: 'late' })
    await c.flush()
    expect(server.requests).toHaveLength(1)
    expect(reports.map((r) => [r.reason, r.message])).toEqual([['shutdown', 'recorded after shutdown()']])
    expect(await c.shutdown()).toBe(true)
  })

  it('does not hang on a server that never answers', async () => {
    server.setResponder(() => ({ status: 200, hang: true }))
    const c = client({ requestTimeoutMs: 60_000 })
    logs(c, 4)
    const t0 = performance.now()
    expect(await c.shutdown(300)).toBe(false)
    const took = performance.now() - t0
    expect(took).toBeGreaterThanOrEqual(290)
    expect(took).toBeLessThan(1500)
    expect(c.stats()).toMatchObject({ sent: 0, queued: 0, inFlight: 0, dropped: { shutdown: 4 } })
  })

  it('does not wait out a long Retry-After', async () => {
    server.setResponder(() => ({ status: 503, headers: { 'retry-after': '30' } }))
    const c = client({ retryMaxMs: 60_000 })
    logs(c, 2)
    const t0 = performance.now()
    expect(await c.shutdown(200)).toBe(false)
    expect(performance.now() - t0).toBeLessThan(1500)
    expect(c.stats().dropped.shutdown).toBe(2)
  })

  /** Runs a program that records a run and a log and ends without shutdown(); its exit code and stderr. */
  async function forgetfulProgram(shutdownTimeoutMs: number): Promise<[number | null, string]> {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-sdk-exit-'))
    try {
      // .mts: the temporary folder has no package.json saying "type": "module".
      const script = join(dir, 'forgetful.mts')
      const sdk = fileURLToPath(new URL('../src/index.ts', import.meta.url))
      writeFileSync(
        script,
        `import { Sluice } from ${JSON.stringify(sdk)}
const sluice = new Sluice({ endpoint: process.argv[2]!, apiKey: 'k', shutdownTimeoutMs: ${shutdownTimeoutMs} })
await sluice.run({ name: 'exit' }, (run) => run.step({ name: 's' }, () => 1))
sluice.log({ level: 'info', message: 'bye' })
`,
      )
      const root = fileURLToPath(new URL('../../../', import.meta.url))
      const child = spawn(process.execPath, ['--import', 'tsx', script, server.url], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] })
      let stderr = ''
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
      return [code, stderr]
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }

  it('flushes at process exit when the program forgot to', async () => {
    expect(await forgetfulProgram(2000)).toEqual([0, ''])
    expect(server.requests.flatMap((r) => r.events.map((e) => e.type))).toEqual(['run_start', 'step_complete', 'run_complete', 'log'])
  })

  it('lets the process exit within shutdownTimeoutMs when the server never answers', async () => {
    server.setResponder(() => ({ status: 200, hang: true }))
    const t0 = performance.now()
    expect(await forgetfulProgram(300)).toEqual([0, ''])
    expect(server.requests).toHaveLength(1)
    // Node and tsx start in well under a second here; the exit flush adds its 300 ms at most.
    expect(performance.now() - t0).toBeLessThan(5000)
  })
})

describe('debug', () => {
  it('logs what the client does to stderr only when asked', async () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      server.setResponder((_r, i) => (i === 0 ? { status: 500 } : { status: 200 }))
      const quiet = client()
      logs(quiet, 1)
      await quiet.flush()
      expect(spy).not.toHaveBeenCalled()
      const loud = client({ debug: true })
      logs(loud, 1)
      await loud.flush()
      const lines = spy.mock.calls.map((args) => String(args[0]))
      expect(lines.some((l) => /^\[sluice\] sent 1 events/.test(l))).toBe(true)
    } finally {
      spy.mockRestore()
    }
  })
})
