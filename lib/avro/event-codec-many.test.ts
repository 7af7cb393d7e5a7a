import { describe, expect, it } from 'vitest'
import type { EventEnvelope } from '../event-types.ts'
import { createEventCodec } from './event-codec.ts'
import { SAMPLE_ENVELOPES } from './sample-envelopes.ts'

// encodeMany is ingest's batch path: it must write byte for byte what encode writes, one event at
// a time, whatever the batch's size and whichever wire format.

function manyEvents(count: number, bigEvery = 0): EventEnvelope[] {
  return Array.from({ length: count }, (_, i) => {
    const e = SAMPLE_ENVELOPES[i % SAMPLE_ENVELOPES.length]!
    if (bigEvery > 0 && i % bigEvery === 0 && e.type === 'log') return { ...e, payload: { ...e.payload, message: 'm'.repeat(40_000 + i) } }
    return e
  })
}

describe('EventCodec.encodeMany', () => {
  it('equals encode for each event, in order, past the first buffer and with events larger than it', async () => {
    const codec = createEventCodec()
    for (const events of [manyEvents(1), manyEvents(3000), manyEvents(200, 3)]) {
      const many = await codec.encodeMany(events)
      const one = await Promise.all(events.map((e) => codec.encode(e)))
      expect(many.map((b) => b.toString('hex'))).toEqual(one.map((b) => b.toString('hex')))
      expect(await Promise.all(many.map((b) => codec.decode(b)))).toEqual(await Promise.all(one.map((b) => codec.decode(b))))
    }
  })

  it('registers once in Confluent mode and frames every event with the id', async () => {
    let posts = 0
    const fetchImpl: typeof fetch = async () => {
      posts++
      return new Response(JSON.stringify({ id: 9 }), { status: 200 })
    }
    const codec = createEventCodec({ schemaRegistryUrl: 'http://registry.invalid', fetchImpl })
    const events = manyEvents(50)
    const many = await codec.encodeMany(events)
    expect(posts).toBe(1)
    for (const [i, b] of many.entries()) {
      expect(b[0]).toBe(0)
      expect(b.readUInt32BE(1)).toBe(9)
      expect(b.toString('hex')).toBe((await codec.encode(events[i]!)).toString('hex'))
    }
  })

  it('returns views that a later batch does not overwrite', async () => {
    const codec = createEventCodec()
    const first = await codec.encodeMany(manyEvents(10))
    const copy = first.map((b) => Buffer.from(b))
    await codec.encodeMany(manyEvents(10).reverse())
    expect(first).toEqual(copy)
  })
})
