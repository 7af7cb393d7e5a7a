import { describe, expect, it } from 'vitest'
import { batchBody, BODY_FRAME_BYTES, EventQueue, type QueuedEvent } from './event-queue.ts'

const event = (seq: number, bytes = 10): QueuedEvent => ({ seq, id: `id-${seq}`, type: 'log', json: 'x'.repeat(bytes), bytes })

describe('EventQueue', () => {
  it('is first in, first out, and counts bytes', () => {
    const q = new EventQueue()
    for (let i = 1; i <= 3; i++) q.push(event(i, i))
    expect([q.length, q.bytes]).toEqual([3, 6])
    expect(q.shift()?.seq).toBe(1)
    expect([q.length, q.bytes]).toEqual([2, 5])
    expect(q.clear().map((e) => e.seq)).toEqual([2, 3])
    expect([q.length, q.bytes, q.shift()]).toEqual([0, 0, undefined])
  })

  it('takes at most maxEvents and a body of at most maxBytes, but never nothing', () => {
    const q = new EventQueue()
    for (let i = 1; i <= 5; i++) q.push(event(i, 100))
    expect(q.take(2, 1_000_000).map((e) => e.seq)).toEqual([1, 2])
    // Two events: 13 + 100 + 1 + 100 = 214 bytes.
    expect(q.take(10, 214).map((e) => e.seq)).toEqual([3, 4])
    q.push(event(6, 500))
    expect(q.take(10, 213).map((e) => e.seq)).toEqual([5])
    expect(q.take(10, 50).map((e) => e.seq)).toEqual([6])
    expect(q.take(10, 50)).toEqual([])
  })

  it('stays correct across many pushes and shifts (the front is reclaimed)', () => {
    const q = new EventQueue()
    let next = 1
    let expected = 1
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 100; i++) q.push(event(next++))
      for (let i = 0; i < 90; i++) expect(q.shift()?.seq).toBe(expected++)
    }
    expect(q.length).toBe(500)
    expect(q.peek()?.seq).toBe(expected)
  })
})

describe('batchBody', () => {
  it('frames the events as Sluice reads them', () => {
    const body = batchBody([{ ...event(1), json: '{"a":1}' }, { ...event(2), json: '{"b":2}' }])
    expect(body).toBe('{"events":[{"a":1},{"b":2}]}')
    expect(Buffer.byteLength(body)).toBe(BODY_FRAME_BYTES + 7 + 1 + 7)
  })
})
