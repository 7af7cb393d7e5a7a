import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../lib/config.ts'
import { killAllSluiceChildren, spawnSluice, type ChildSluice } from './helpers/child-sluice.ts'
import { sluiceClient, testEnv } from './helpers/test-sluice.ts'

// The requirement: the rule processor killed with SIGKILL between matches loses no count
// and opens no second complaint. A (ingest and query API; complaints live in Postgres) takes a
// steady stream of matching logs, with resends; B (the processors) is killed twice while it is
// counting them and started again. At the end the one complaint counts every distinct event once.
describe('rule processor killed with SIGKILL between matches', () => {
  const dirs: string[] = []
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'sluice-crash-'))
    dirs.push(d)
    return d
  }

  afterAll(async () => {
    await killAllSluiceChildren()
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  it('counts every match once and opens one complaint', async () => {
    const env = testEnv()
    const config = loadConfig(env)
    const front = await spawnSluice({ roles: ['ingest', 'query'], env: { ...env, SLUICE_CHDB_PATH: tempDir() } })
    const processorEnv = { ...env, SLUICE_CHDB_PATH: tempDir() }
    let processor: ChildSluice = await spawnSluice({ roles: ['processor'], env: processorEnv })
    const api = sluiceClient(front.url, config)
    const project = await api.createProject()
    const rule = await api.post<{ id: string }>('/api/reactions', {
      key: project.query_key,
      body: {
        name: 'checkout errors',
        event_type: 'log',
        conditions: [{ field: 'level', op: 'eq', value: 'error' }],
        threshold: { count: 3, window_seconds: 3600 },
        group_by: ['service'],
      },
    })
    expect(rule.status).toBe(201)

    const sent: Array<{ id: string; type: string; data: object }> = []
    const occurrences = async () => {
      const res = await api.get<Array<{ occurrences: number }>>(`/api/complaints/${project.id}`, { key: project.query_key })
      return res.body
    }
    const sendBatch = async (n: number) => {
      const fresh = Array.from({ length: n }, () => ({
        id: randomUUID(),
        type: 'log',
        data: { level: 'error', message: 'payment timeout', service: 'checkout', run_id: randomUUID() },
      }))
      // Every batch also resends two earlier events: they must never count again.
      const resent = sent.slice(-7, -5)
      sent.push(...fresh)
      const res = await api.post('/ingest', { key: project.ingest_key, body: { events: [...fresh, ...resent] } })
      expect(res.status).toBe(200)
    }

    const kills: Array<{ countedBefore: number; countedAtKill: number; sentAtKill: number }> = []
    for (let round = 0; round < 2; round++) {
      // Stream until B has counted some of this round's matches, then kill it mid-stream.
      let counted = -1
      for (let i = 0; i < 200; i++) {
        await sendBatch(4)
        const list = await occurrences()
        if (list.length > 0 && list[0]!.occurrences > (kills[kills.length - 1]?.countedBefore ?? 0) + 4) {
          counted = list[0]!.occurrences
          break
        }
        await new Promise((r) => setTimeout(r, 30))
      }
      expect(counted).toBeGreaterThan(0)
      // The kill goes out as this batch is sent: B (its own thread, quick to react) cannot have
      // fetched it, so what B counted is some but never all of what ingest acknowledged.
      const last = sendBatch(6)
      processor.kill('SIGKILL')
      await last
      await processor.stopped
      // B is dead: what it counted by then is final for this moment.
      const countedAtKill = (await occurrences())[0]?.occurrences ?? 0
      kills.push({ countedBefore: counted, countedAtKill, sentAtKill: sent.length })
      // While B is dead, events keep coming and are acknowledged.
      for (let i = 0; i < 5; i++) await sendBatch(4)
      processor = await spawnSluice({ roles: ['processor'], env: processorEnv })
    }
    for (let i = 0; i < 5; i++) await sendBatch(4)

    // The kill really landed mid-stream: B had counted some, but not all that was acknowledged, when it died.
    expect(kills).toHaveLength(2)
    for (const k of kills) {
      expect(k.countedAtKill).toBeGreaterThan(0)
      expect(k.countedAtKill).toBeLessThan(k.sentAtKill)
    }
    await api.waitUntilProcessed(120_000)
    const complaints = await occurrences()
    expect(complaints).toHaveLength(1)
    expect(complaints[0]!.occurrences).toBe(sent.length)
    processor.kill('SIGTERM')
    expect(await processor.stopped).toBe(0)
  })
})
