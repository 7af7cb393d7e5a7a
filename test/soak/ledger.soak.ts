/**
 * The ledger (issue "reliability"): events with unique ids sent by the TypeScript SDK, the
 * processor SIGKILLed 5 times and the ingest process once during the load (the SDK retrying with
 * the same ids while ingest is gone), and afterwards every event the SDK did not report dropped is
 * stored exactly once: every log once in /api/logs, every run once in /runs with its five steps,
 * every step once in the pipeline funnel.
 *
 *   npm run test:soak                          # SLUICE_SOAK_RUNS=20000: 200,000 events
 *   SLUICE_SOAK_RUNS=2000 npm run test:soak    # a quick one
 *
 * (Not in the root typecheck: it imports the SDK's source, which has its own tsconfig.)
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../lib/config.ts'
import { Sluice } from '../../sdk/typescript/src/index.ts'
import { killAllSluiceChildren, spawnSluice, type ChildSluice } from '../helpers/child-sluice.ts'
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts'
import { ADMIN_TOKEN, sluiceClient, testEnv, type TestSluice } from '../helpers/test-sluice.ts'

const RUNS = Number(process.env.SLUICE_SOAK_RUNS ?? 20_000)
const STEPS = ['retrieve', 'dedupe', 'rank', 'filter', 'pick']
const LOGS_PER_RUN = 3 // + run_start + 5 steps + run_complete = 10 events a run
const PROCESSOR_KILLS = 5
const LOAD_MS = 35_000

describe('ledger: SIGKILLs during a large load', () => {
  let chdbDir: string
  let proxy: TcpProxy
  let ingest: ChildSluice
  let processor: ChildSluice

  afterAll(async () => {
    await killAllSluiceChildren()
    await proxy?.close()
    if (chdbDir) rmSync(chdbDir, { recursive: true, force: true })
  })

  it('stores every event the SDK did not drop exactly once', async () => {
    chdbDir = mkdtempSync(join(tmpdir(), 'sluice-ledger-'))
    const env = testEnv({ SLUICE_CHDB_PATH: chdbDir, SLUICE_RATE_LIMIT_EVENTS_PER_SECOND: '1000000', LOG_LEVEL: 'warn' })
    const port = (s: ChildSluice) => Number(new URL(s.url).port)
    const client = (s: ChildSluice, roles: Array<'ingest' | 'processor' | 'query'>): TestSluice => sluiceClient(s.url, loadConfig(env, { roles }))
    ingest = await spawnSluice({ roles: ['ingest'], env })
    processor = await spawnSluice({ roles: ['processor', 'query'], env })
    // The SDK keeps one endpoint: a proxy whose target follows the ingest process across its restart.
    proxy = await startTcpProxy({ host: '127.0.0.1', port: port(ingest) })
    const project = await client(ingest, ['ingest']).createProject()

    let dropped = 0
    const sdk = new Sluice({
      endpoint: `http://127.0.0.1:${proxy.port}`,
      apiKey: project.ingest_key,
      flushAt: 500,
      maxBatchEvents: 1000,
      maxQueueSize: 1_000_000,
      maxQueueBytes: 1 << 30,
      maxRetries: 1000,
      retryBaseMs: 100,
      retryMaxMs: 1000,
      onDrop: (report) => {
        dropped += report.events.length
      },
    })

    const kills: string[] = []
    const started = Date.now()
    const killer = (async () => {
      for (let k = 0; k < PROCESSOR_KILLS; k++) {
        await new Promise((r) => setTimeout(r, 4_000 + k * 1_000))
        processor.kill('SIGKILL')
        await processor.stopped
        kills.push(`processor at ${Date.now() - started} ms`)
        if (k === 2) {
          ingest.kill('SIGKILL')
          await ingest.stopped
          kills.push(`ingest at ${Date.now() - started} ms`)
          ingest = await spawnSluice({ roles: ['ingest'], env })
          proxy.retarget({ host: '127.0.0.1', port: port(ingest) })
        }
        processor = await spawnSluice({ roles: ['processor', 'query'], env })
      }
    })()

    for (let i = 0; i < RUNS; i++) {
      await sdk.run({ name: 'ledger' }, async (run) => {
        for (const [s, name] of STEPS.entries()) {
          await run.step({ name, type: 'filter' }, (step) => step.processCandidates(Array.from({ length: 20 - s }, (_, c) => c), (c) => (c % 5 === 0 ? 'low' : true)))
        }
        for (let l = 0; l < LOGS_PER_RUN; l++) run.log({ level: 'info', message: `ledger ${i} ${l}`, service: 'ledger' })
      })
      // Spread the load over about 35 s, so that every kill lands while events are still coming.
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, LOAD_MS / (RUNS / 100)))
    }
    await killer
    expect(await sdk.shutdown(300_000)).toBe(true)
    expect(dropped).toBe(0)
    expect(kills).toHaveLength(PROCESSOR_KILLS + 1)

    const api = client(ingest, ['ingest'])
    const deadline = Date.now() + 600_000
    for (;;) {
      const lag = await api.get<Array<{ lag: number }>>('/api/ops/lag', { key: ADMIN_TOKEN })
      if (lag.status === 200 && lag.body.length > 0 && lag.body.every((r) => r.lag === 0)) break
      if (Date.now() > deadline) throw new Error(`not caught up: ${JSON.stringify(lag.body)}`)
      await new Promise((r) => setTimeout(r, 500))
    }
    const query = client(processor, ['processor', 'query'])
    const all = async <T extends { id: string }>(first: string): Promise<T[]> => {
      const out: T[] = []
      let path: string | null = first
      while (path) {
        const res: { status: number; headers: Headers; body: T[] } = await query.get<T[]>(path, { key: project.query_key })
        expect(res.status).toBe(200)
        out.push(...res.body)
        path = /<([^>]+)>; rel="next"/.exec(res.headers.get('link') ?? '')?.[1] ?? null
      }
      return out
    }
    const logs = await all<{ id: string }>('/api/logs?service=ledger&limit=1000')
    expect(logs).toHaveLength(RUNS * LOGS_PER_RUN)
    expect(new Set(logs.map((l) => l.id)).size).toBe(RUNS * LOGS_PER_RUN)
    const runs = await all<{ id: string; step_count: number; status: string }>('/runs?name=ledger&limit=1000')
    expect(runs).toHaveLength(RUNS)
    expect(new Set(runs.map((r) => r.id)).size).toBe(RUNS)
    expect(runs.filter((r) => r.step_count !== STEPS.length || r.status !== 'COMPLETED')).toEqual([])
    const funnel = await query.get<Array<{ name: string; runs: number; input_count: number }>>('/pipelines/ledger/funnel', { key: project.query_key })
    expect(funnel.body.map((s) => [s.name, s.runs, s.input_count])).toEqual(STEPS.map((name, s) => [name, RUNS, RUNS * (20 - s)]))
    console.info(`[ledger] ${RUNS * (7 + LOGS_PER_RUN)} events, kills: ${kills.join(', ')}, total ${((Date.now() - started) / 1000).toFixed(1)} s`)
  })
})
