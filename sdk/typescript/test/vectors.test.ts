import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULTS, DROP_REASONS, SDK_VERSION, Sluice, type DropReport } from '../src/index.ts'
import { startFakeIngest, type FakeIngest } from './helpers/fake-ingest.ts'
import {
  camel,
  fixedClock,
  idNumber,
  play,
  readDefaults,
  readVectors,
  sequentialIds,
  type DeliveryVector,
  type TracingVector,
} from './helpers/vectors.ts'

// The shared vectors of sdk/testdata: the Python SDK's tests play the same files.

let server: FakeIngest

beforeAll(async () => {
  server = await startFakeIngest()
})

afterAll(async () => {
  await server.close()
})

/** Only flush() sends; retries are quick. */
// One request at a time, so requests arrive (and are answered) in the order the vectors list.
const QUIET = { flushAt: 1_000_000, flushIntervalMs: 1_000_000, retryBaseMs: 1, retryMaxMs: 5, flushOnExit: false, maxInFlight: 1 }

describe('defaults', () => {
  it('are the ones sdk/testdata/defaults.json lists', () => {
    const expected = Object.fromEntries(Object.entries(readDefaults()).map(([k, v]) => [camel(k), v]))
    expect({ ...DEFAULTS }).toEqual(expected)
  })

  it('SDK_VERSION is package.json’s version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
    expect(SDK_VERSION).toBe(pkg.version)
  })
})

describe('tracing vectors', () => {
  it.each(readVectors<TracingVector>('tracing'))('%s', async (_file, vector) => {
    server.requests.length = 0
    server.setResponder(() => ({ status: 200 }))
    const clock = fixedClock(vector.clock_start)
    const sluice = new Sluice({ endpoint: server.url, apiKey: 'k', ...QUIET, clock: clock.now, generateId: sequentialIds() })
    await play(vector.script, { sluice, clock }).catch((err: unknown) => {
      // A vector's top-level op may end by throwing (it then says so in `raises`, checked in play).
      if (!vector.script.some((op) => op.raises !== undefined && !op.catch)) throw err
    })
    expect(await sluice.shutdown(2000)).toBe(true)
    expect(server.requests.flatMap((r) => r.events)).toEqual(vector.events)
  })
})

describe('delivery vectors', () => {
  it.each(readVectors<DeliveryVector>('delivery'))('%s', async (_file, vector) => {
    server.requests.length = 0
    server.setResponder((_req, i) => vector.responses[i] ?? { status: 200 })
    const dropped: Record<string, number[]> = {}
    const options = Object.fromEntries(Object.entries(vector.options).map(([k, v]) => [camel(k), v]))
    const sluice = new Sluice({
      endpoint: server.url,
      apiKey: 'k',
      ...QUIET,
      ...options,
      clock: fixedClock('2026-11-22T10:00:00.000Z').now,
      generateId: sequentialIds(),
      onDrop: (r: DropReport) => (dropped[r.reason] ??= []).push(...r.events.map((e) => idNumber(e.id))),
    })
    for (let n = 1; n <= vector.events; n++) sluice.log({ level: 'info', message: `event ${n}` })
    await sluice.flush()
    expect(server.ids().map((ids) => ids.map(idNumber))).toEqual(vector.expect.requests)
    for (const reason of DROP_REASONS) expect([reason, dropped[reason] ?? []]).toEqual([reason, vector.expect.dropped[reason] ?? []])
    const stats = sluice.stats()
    expect(stats.sent).toBe(vector.expect.sent)
    for (const reason of DROP_REASONS) expect(stats.dropped[reason]).toBe(vector.expect.dropped[reason]?.length ?? 0)
    expect(await sluice.shutdown(1000)).toBe(true)
  })
})
