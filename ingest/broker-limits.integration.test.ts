import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestSluice, type TestProject, type TestSluice } from '../test/helpers/test-sluice.ts'
import { topicEvents } from '../test/helpers/topic-events.ts'

// Batches within the API's limits that are larger than one produce request the broker takes. They
// used to be 503 SLUICE_ERR_BROKER_UNAVAILABLE on every retry.

describe('batches larger than one produce request', () => {
  let sluice: TestSluice
  let project: TestProject

  beforeAll(async () => {
    sluice = await startTestSluice({ roles: ['ingest'] })
    project = await sluice.createProject()
  })
  afterAll(async () => {
    await sluice?.close()
  })

  const idsInTopic = async (ids: readonly string[]) => new Set((await topicEvents(sluice.config, ids)).keys())

  it('200 for 40 logs of 50 KB of one run (2 MB on one partition), every event in the topic', async () => {
    const runId = randomUUID()
    const events = Array.from({ length: 40 }, (_, i) => ({
      id: randomUUID(),
      type: 'log',
      data: { level: 'info', message: `${i} ${'x'.repeat(50_000)}`, run_id: runId },
    }))
    const res = await sluice.post('/ingest', { key: project.ingest_key, body: { events } })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect(res.body).toEqual({ status: 'ok', processed: 40 })
    const ids = events.map((e) => e.id)
    const seen = await idsInTopic(ids)
    expect(ids.filter((id) => !seen.has(id))).toEqual([])
  })

  it('200 for 4 events of about 1 MiB each, every event in the topic', async () => {
    const runId = randomUUID()
    const events = Array.from({ length: 4 }, (_, i) => ({
      id: randomUUID(),
      type: 'log',
      data: { level: 'warn', message: `${i} ${'y'.repeat(1024 * 1024 - 300)}`, run_id: i % 2 ? runId : randomUUID() },
    }))
    for (const e of events) expect(Buffer.byteLength(JSON.stringify(e))).toBeLessThanOrEqual(1024 * 1024)
    const res = await sluice.post('/ingest', { key: project.ingest_key, body: { events } })
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect(res.body).toEqual({ status: 'ok', processed: 4 })
    const ids = events.map((e) => e.id)
    const seen = await idsInTopic(ids)
    expect(ids.filter((id) => !seen.has(id))).toEqual([])
  })
})
