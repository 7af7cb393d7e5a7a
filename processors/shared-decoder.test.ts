import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createEventCodec, UndecodableEventError } from '../lib/avro/event-codec.ts'
import type { EventEnvelope } from '../lib/event-types.ts'
import { createSharedDecoder } from './shared-decoder.ts'

const codec = createEventCodec({})
const event = {
  id: randomUUID(), project_id: 'p', type: 'log', timestamp: 1, received_at: 2, request_id: null,
  payload: { level: 'info', message: 'hello', service: null, attributes: {}, run_id: null },
} as EventEnvelope

describe('shared decoder', () => {
  it('decodes a message once for all its readers, then forgets it', async () => {
    let decodes = 0
    const counting = { ...codec, decode: (b: Buffer) => codec.decode(b), decodeNow: (b: Buffer) => (decodes++, codec.decodeNow(b)) }
    const decoder = createSharedDecoder({ codec: counting, maxEntries: 10 })
    const message = { offset: '5', key: null, value: await codec.encode(event), headers: {} }
    const a = await decoder.decode('t', 0, message, 3)
    const b = await decoder.decode('t', 0, message, 3)
    const c = await decoder.decode('t', 0, message, 3)
    expect(decodes).toBe(1)
    expect(b).toBe(a)
    expect(c).toEqual(event)
    // All three readers took it: a fourth read (a retry) decodes again.
    await decoder.decode('t', 0, message, 3)
    expect(decodes).toBe(2)
  })

  it('does not mix up two messages at one offset of a recreated topic', async () => {
    const decoder = createSharedDecoder({ codec, maxEntries: 10 })
    const other = { ...event, id: randomUUID() } as EventEnvelope
    await decoder.decode('t', 0, { offset: '1', key: null, value: await codec.encode(event), headers: {} }, 2)
    const second = await decoder.decode('t', 0, { offset: '1', key: null, value: await codec.encode({ ...other, payload: { ...other.payload, message: 'longer text' } } as EventEnvelope), headers: {} }, 2)
    expect(second.id).toBe(other.id)
  })

  it('rejects a poison message for every reader and stays bounded', async () => {
    const decoder = createSharedDecoder({ codec, maxEntries: 2 })
    const bad = { offset: '9', key: null, value: Buffer.from([0xc3, 0x01, 1, 2]), headers: {} }
    expect(() => decoder.decode('t', 0, bad, 2)).toThrow(UndecodableEventError)
    expect(() => decoder.decode('t', 0, bad, 2)).toThrow(UndecodableEventError)
    for (let i = 0; i < 5; i++) await decoder.decode('t', 1, { offset: String(i), key: null, value: await codec.encode(event), headers: {} }, 3)
  })
})

describe('shared decoder eviction', () => {
  it('keeps at most two generations of entries that not every reader took', async () => {
    let decodes = 0
    const counting = { ...codec, decode: (b: Buffer) => codec.decode(b), decodeNow: (b: Buffer) => (decodes++, codec.decodeNow(b)) }
    const decoder = createSharedDecoder({ codec: counting, maxEntries: 4 })
    const value = await codec.encode(event)
    const at = (offset: number) => ({ offset: String(offset), key: null, value, headers: {} })
    // Offsets 0..5 read by one of their two readers: generations {0,1}, {2,3}, then {4,5} drops {0,1}.
    for (let i = 0; i < 6; i++) decoder.decode('t', 0, at(i), 2)
    expect(decodes).toBe(6)
    for (const i of [2, 3, 4, 5]) decoder.decode('t', 0, at(i), 2)
    expect(decodes).toBe(6)
    decoder.decode('t', 0, at(0), 2)
    expect(decodes).toBe(7)
  })
})
