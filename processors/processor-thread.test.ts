import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../lib/config.ts'
import { createLogger } from '../lib/logger.ts'
import { createMetrics } from '../lib/metrics.ts'
import { startProcessorThread } from './processor-thread.ts'
import type { RunningGroup } from './start-consumer-group.ts'

describe('processor thread supervision', () => {
  let dir: string
  let running: RunningGroup | undefined

  afterEach(async () => {
    await running?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('starts a thread that died again, and stops the new one', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-thread-'))
    const marker = join(dir, 'crashed')
    const config = loadConfig({
      // Never dialled: the stand-in thread connects to nothing.
      KAFKA_BROKERS: '127.0.0.1:1',
      DATABASE_URL: 'postgres://unused@127.0.0.1:1/unused',
      REDIS_URL: 'redis://127.0.0.1:1',
      SLUICE_REACTIONS_GROUP: marker,
      SLUICE_PROCESSOR_STALL_SECONDS: '5',
    })
    running = await startProcessorThread({
      processor: 'reactions',
      group: 'crash-once',
      config,
      metrics: createMetrics({ defaultMetrics: false }),
      logger: createLogger({ level: 'silent' }),
      wakeWebhooks: () => {},
      entry: new URL('./test-fixtures/crash-once-thread.ts', import.meta.url),
    })
    // The first thread reports lag 1 until it dies (after 150 ms); the one started 1 s later reports 0.
    await expect.poll(() => running!.liveness()[0]!.lag, { timeout: 2_000, interval: 20 }).toBe(1)
    await expect.poll(() => running!.liveness()[0]!.lag, { timeout: 5_000, interval: 50 }).toBe(0)
    expect(readFileSync(marker, 'utf8')).toBe('crashed once')
    expect(running.liveness()[0]!.state).toBe('ok')
    const t0 = Date.now()
    await running.stop()
    running = undefined
    expect(Date.now() - t0).toBeLessThan(2_000)
  })
})
