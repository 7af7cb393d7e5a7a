import { describe, expect, it } from 'vitest'
import type { EventEnvelope } from '../lib/event-types.ts'
import type { Flush } from './define-processor.ts'
import { ATTEMPTS_ALONE, isolatePoison, subFlush, SystemicFailureError } from './isolate-poison.ts'
import type { PositionedEvent } from './positioned-events.ts'

function flushOf(count: number, partitions = 2): Flush {
  const events: PositionedEvent[] = Array.from({ length: count }, (_, i) => ({
    partition: i % partitions,
    offset: 100 + i,
    event: { id: `e${i}`, project_id: 'p', type: 'log' } as unknown as EventEnvelope,
  }))
  events.sort((a, b) => a.partition - b.partition || a.offset - b.offset)
  return { events, partitions: Array.from({ length: partitions }, (_, p) => ({ topic: 't', partition: p, lastOffset: 200 + p })) }
}

/** A handler that fails every flush holding one of `bad`, and records what it stored, in order. */
function handlerFailingOn(bad: ReadonlySet<string>) {
  const stored: string[] = []
  const calls: Flush[] = []
  const handle = async (flush: Flush) => {
    calls.push(flush)
    if (flush.events.some((e) => bad.has(e.event.id))) throw new Error(`cannot store ${[...bad].join(',')}`)
    stored.push(...flush.events.map((e) => e.event.id))
    return { stored: flush.events.length, duplicate: 0 }
  }
  return { handle, stored, calls }
}

describe('isolatePoison', () => {
  it('stores every other event, in order, and names the ones that fail alone', async () => {
    const flush = flushOf(40)
    const { handle, stored, calls } = handlerFailingOn(new Set(['e7', 'e30']))
    const { outcome, poison } = await isolatePoison(flush, handle, async () => true)

    expect(poison.map((p) => p.event.event.id)).toEqual(['e30', 'e7'].sort((a, b) => flush.events.findIndex((e) => e.event.id === a) - flush.events.findIndex((e) => e.event.id === b)))
    expect((poison[0]!.error as Error).message).toMatch(/cannot store/)
    const expected = flush.events.map((e) => e.event.id).filter((id) => id !== 'e7' && id !== 'e30')
    expect(stored).toEqual(expected)
    expect(outcome.stored).toBe(38)
    // Each poison event was tried alone ATTEMPTS_ALONE times, and the search stays logarithmic.
    for (const id of ['e7', 'e30']) {
      expect(calls.filter((c) => c.events.length === 1 && c.events[0]!.event.id === id)).toHaveLength(ATTEMPTS_ALONE)
    }
    expect(calls.length).toBeLessThan(40)
  })

  it('throws, dead-lettering nothing, when the stores stop answering', async () => {
    const { handle } = handlerFailingOn(new Set(['e3']))
    await expect(isolatePoison(flushOf(10), handle, async () => false)).rejects.toThrow(/cannot store/)
  })

  it('throws on an infrastructure error even while the probe answers', async () => {
    const handle = async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })
    }
    await expect(isolatePoison(flushOf(4), handle, async () => true)).rejects.toThrow(/ECONNREFUSED/)
  })

  it('takes a flush where every event fails alone as the processor failing, not as poison', async () => {
    const all = flushOf(6)
    const { handle } = handlerFailingOn(new Set(all.events.map((e) => e.event.id)))
    await expect(isolatePoison(all, handle, async () => true)).rejects.toBeInstanceOf(SystemicFailureError)
  })

  it('dead-letters the single event of a flush of one', async () => {
    const one = flushOf(1, 1)
    const { handle } = handlerFailingOn(new Set(['e0']))
    const { poison } = await isolatePoison(one, handle, async () => true)
    expect(poison.map((p) => p.event.offset)).toEqual([100])
  })
})

describe('subFlush', () => {
  it('covers each partition up to its last event in the part', () => {
    const flush = flushOf(6, 2)
    const part = subFlush(flush, flush.events.slice(0, 2))
    expect(part.partitions).toEqual([{ topic: 't', partition: 0, lastOffset: 102 }])
    expect(subFlush(flush, flush.events)).toBe(flush)
  })
})
