/**
 * Issue "reliability", faults of every dependency: ClickHouse writes failing for 10 s (the steps
 * table detached in the embedded engine, as when a table or disk is unavailable). The runs-funnel
 * fetch is retried whole, nothing is dead-lettered, and once writes work again every run and step
 * is counted exactly once.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { createClickhouseClient, type ClickHouseClient } from '../lib/clickhouse.ts'
import { expectedPipelineFunnel, generateRun, prng } from './fixtures/pipeline-runs.ts'
import { expectFunnel } from './helpers/expect-funnel.ts'
import { testServices } from './helpers/services.ts'
import { ADMIN_TOKEN, startTestSluice, type TestSluice } from './helpers/test-sluice.ts'

// It detaches a table of the embedded engine this test process owns; a ClickHouse server (when
// CLICKHOUSE_URL is given) is not ours to break.
describe.skipIf(testServices().clickhouseUrl !== null)('ClickHouse writes failing', () => {
  let sluice: TestSluice
  let operator: ClickHouseClient | undefined

  afterAll(async () => {
    await sluice?.close()
    await operator?.close()
  })

  it('retries the fetch without dead-lettering, and counts every step once when writes work again', async () => {
    sluice = await startTestSluice()
    const { clickhouse } = sluice.config
    operator = createClickhouseClient({ url: undefined, user: '', password: '', chdbPath: clickhouse.chdbPath })
    const steps = `\`${clickhouse.database}\`.steps`
    const project = await sluice.createProject()
    const rand = prng(7)
    const runs = Array.from({ length: 40 }, (_, i) => generateRun(rand, 'ch-down', Date.UTC(2026, 11, 1, 8) + i * 60_000))
    const send = async (from: number, to: number) => {
      const res = await sluice.post('/ingest', { key: project.ingest_key, body: { events: runs.slice(from, to).flatMap((r) => r.events) } })
      expect(res.status).toBe(200)
    }
    await send(0, 20)
    await sluice.waitUntilProcessed()

    await operator.command({ query: `DETACH TABLE ${steps}` })
    let detached = true
    try {
      await send(20, 40)
      await new Promise((r) => setTimeout(r, 10_000))
      const lag = await sluice.get<Array<{ group: string; lag: number }>>('/api/ops/lag', { key: ADMIN_TOKEN })
      expect(lag.body.filter((r) => r.group === sluice.config.processor.runsFunnelGroup).reduce((n, r) => n + r.lag, 0)).toBeGreaterThan(0)
      const metrics = (await sluice.get<string>('/metrics')).body
      expect(metrics).toMatch(/^sluice_processor_errors_total\{processor="runs-funnel"\} [1-9]/m)
      expect(metrics).not.toMatch(/sluice_dead_letter_total\{/)
      await operator.command({ query: `ATTACH TABLE ${steps}` })
      detached = false
    } finally {
      if (detached) await operator.command({ query: `ATTACH TABLE ${steps}` }).catch(() => {})
    }

    await sluice.waitUntilProcessed(60_000)
    const funnel = await sluice.get<any[]>('/pipelines/ch-down/funnel', { key: project.query_key })
    expect(funnel.status).toBe(200)
    expectFunnel(funnel.body, expectedPipelineFunnel(runs))
    const listed = await sluice.get<Array<{ step_count: number }>>('/runs?name=ch-down&limit=100', { key: project.query_key })
    expect(listed.body).toHaveLength(40)
    expect(listed.body.every((r) => r.step_count === 5)).toBe(true)
    expect((await sluice.get<string>('/metrics')).body).not.toMatch(/sluice_dead_letter_total\{/)
  })
})
