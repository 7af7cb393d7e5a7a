import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { MAX_REASONS, Sluice, type SluiceOptions } from '../src/index.ts'
import { MAX_TEXT_CHARS } from '../src/encode.ts'
import { startFakeIngest, type FakeIngest } from './helpers/fake-ingest.ts'

// What runs and steps record, beyond the shared vectors: language-specific behaviour.

let server: FakeIngest

beforeAll(async () => {
  server = await startFakeIngest()
})

beforeEach(() => {
  server.requests.length = 0
})

afterAll(async () => {
  await server.close()
})

function client(options: Partial<SluiceOptions> = {}): Sluice {
  return new Sluice({ endpoint: server.url, apiKey: 'k', flushAt: 1_000_000, flushIntervalMs: 1_000_000, flushOnExit: false, ...options })
}

async function sent(c: Sluice) {
  await c.shutdown(2000)
  return server.requests.flatMap((r) => r.events)
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('runs and steps', () => {
  it('rethrow the very error thrown, and record it', async () => {
    const c = client()
    const boom = new TypeError('bad input')
    const caught = await c.run({ name: 'r' }, (run) => run.step({ name: 's' }, () => {
      throw boom
    })).catch((e: unknown) => e)
    expect(caught).toBe(boom)
    const events = await sent(c)
    expect(events.map((e) => [e.type, e.data.error])).toEqual([
      ['run_start', undefined],
      ['step_complete', 'bad input'],
      ['run_complete', 'bad input'],
    ])
    expect(events[2]!.data.status).toBe('failed')
  })

  it('record a thrown non-Error as its text, and a thrown undefined as a failure', async () => {
    const c = client()
    await expect(c.run({ name: 'r' }, () => Promise.reject('plain string'))).rejects.toBe('plain string')
    await expect(c.run({ name: 'r' }, () => Promise.reject(undefined))).rejects.toBeUndefined()
    const completes = (await sent(c)).filter((e) => e.type === 'run_complete').map((e) => e.data)
    expect(completes.map((d) => [d.status, d.error])).toEqual([
      ['failed', 'plain string'],
      ['failed', 'undefined'],
    ])
  })

  it('return what the callbacks return, sync or async', async () => {
    const c = client()
    const result = await c.run({ name: 'r' }, async (run) => {
      const a = await run.step({ name: 'sync' }, () => 1)
      const b = await run.step({ name: 'async' }, async () => {
        await sleep(1)
        return 2
      })
      return a + b
    })
    expect(result).toBe(3)
    await c.shutdown()
  })

  it('know the current run and step across awaits, and keep concurrent runs apart', async () => {
    const c = client()
    const seen: Array<[string, string | undefined, string | undefined]> = []
    const one = (name: string, delay: number) =>
      c.run({ name }, async (run) => {
        await sleep(delay)
        await run.step({ name: `${name}-step` }, async (step) => {
          await sleep(delay)
          seen.push([name, c.currentRun()?.id === run.id ? 'run ok' : 'wrong run', c.currentStep()?.id === step.id ? 'step ok' : 'wrong step'])
          c.log({ level: 'info', message: `from ${name}` })
        })
        return run.id
      })
    const [a, b] = await Promise.all([one('a', 5), one('b', 1)])
    expect(c.currentRun()).toBeUndefined()
    expect(seen.sort()).toEqual([
      ['a', 'run ok', 'step ok'],
      ['b', 'run ok', 'step ok'],
    ])
    const logs = (await sent(c)).filter((e) => e.type === 'log').map((e) => [e.data.message, e.data.run_id])
    expect(logs.sort()).toEqual([
      ['from a', a],
      ['from b', b],
    ])
  })

  it('send run_start at once, before the callback ends', async () => {
    const c = client({ flushAt: 1 })
    await c.run({ name: 'r' }, async () => {
      await server.waitForRequests(1)
      expect(server.requests[0]!.events[0]!.type).toBe('run_start')
    })
    await c.shutdown()
  })
})

describe('what a step records', () => {
  it('processCandidates: counts over calls, a throwing decide records nothing and propagates', async () => {
    const c = client()
    await c.run({ name: 'r' }, (run) =>
      run.step({ name: 's', type: 'filter' }, (step) => {
        expect(step.processCandidates(new Set([1, 2, 3, 4]), (n) => (n % 2 === 0 ? true : 'odd'))).toEqual([2, 4])
        expect(() =>
          step.processCandidates([5, 6], (n) => {
            if (n === 6) throw new Error('decide failed')
            return true
          }),
        ).toThrow('decide failed')
        expect(step.processCandidates([7], (n, i) => (i === 0 && n === 7 ? '' : true))).toEqual([])
      }),
    )
    const step = (await sent(c)).find((e) => e.type === 'step_complete')!
    expect(step.data).toMatchObject({ input_count: 5, output_count: 2, rejection_reasons: { odd: 2, rejected: 1 } })
  })

  it('keeps at most MAX_REASONS reasons (the rest as "other") and cuts long ones', async () => {
    const c = client()
    await c.run({ name: 'r' }, async (run) => {
      await run.step({ name: 'many' }, (step) => step.processCandidates(Array.from({ length: 300 }, (_, i) => i), (i) => `reason-${i}`))
      await run.step({ name: 'long' }, (step) => step.processCandidates([0], () => 'x'.repeat(500)))
    })
    const [many, long] = (await sent(c)).filter((e) => e.type === 'step_complete').map((e) => e.data.rejection_reasons as Record<string, number>)
    expect(Object.keys(many!)).toHaveLength(MAX_REASONS)
    expect(many!.other).toBe(300 - (MAX_REASONS - 1))
    expect(long).toEqual({ ['x'.repeat(100)]: 1 })
  })

  it('records unserializable values instead of throwing', async () => {
    const c = client()
    const loop: Record<string, unknown> = { name: 'loop' }
    loop.self = loop
    await c.run({ name: 'r' }, (run) =>
      run.step({ name: 's' }, (step) => {
        step.input({ loop, big: 10n })
        step.output([1, 2] as unknown as Record<string, unknown>)
        step.cost(Number.NaN)
      }),
    )
    const data = (await sent(c)).find((e) => e.type === 'step_complete')!.data
    expect(data.inputs).toEqual({ loop: { name: 'loop', self: '[Circular]' }, big: '10' })
    expect(data.outputs).toEqual({ value: [1, 2] })
    expect(data.cost).toBeUndefined()
  })

  it('cuts error texts to MAX_TEXT_CHARS characters', async () => {
    const c = client()
    await c.run({ name: 'r' }, () => Promise.reject(new Error('é'.repeat(MAX_TEXT_CHARS + 10)))).catch(() => {})
    const error = (await sent(c)).find((e) => e.type === 'run_complete')!.data.error as string
    expect(error).toBe('é'.repeat(MAX_TEXT_CHARS))
  })

  it('log attributes: strings, numbers and booleans as they are, anything else as JSON text', async () => {
    const c = client()
    c.log({ level: 'warning', message: 'm', attributes: { s: 'x', n: 1.5, b: true, o: { a: 1 }, arr: [1], inf: Infinity, u: undefined } })
    const data = (await sent(c))[0]!.data
    expect(data).toEqual({ level: 'warning', message: 'm', attributes: { s: 'x', n: 1.5, b: true, o: '{"a":1}', arr: '[1]', inf: 'Infinity' } })
  })
})

describe('options', () => {
  it('refuse a missing endpoint or key and out-of-range numbers at construction', () => {
    expect(() => new Sluice({ endpoint: '', apiKey: 'k' })).toThrow(TypeError)
    expect(() => new Sluice({ endpoint: 'localhost:8000', apiKey: 'k' })).toThrow(/http\(s\) URL/)
    expect(() => new Sluice({ endpoint: 'http://x', apiKey: '' })).toThrow(/apiKey/)
    expect(() => new Sluice({ endpoint: 'http://x', apiKey: 'k', flushAt: 0 })).toThrow(RangeError)
    expect(() => new Sluice({ endpoint: 'http://x', apiKey: 'k', retryBaseMs: -1 })).toThrow(RangeError)
    expect(() => new Sluice({ endpoint: 'http://x', apiKey: 'k', gzip: 'yes' as unknown as boolean })).toThrow(TypeError)
  })
})
