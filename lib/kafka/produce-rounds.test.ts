import { describe, expect, it } from 'vitest'
import { BATCH_OVERHEAD_BYTES, produceRounds, recordBytes, type PartitionedMessage } from './produce-rounds.ts'

const message = (partition: number, n: number, bytes: number): PartitionedMessage => ({ partition, key: `k${partition}`, value: Buffer.alloc(bytes, n) })

describe('produceRounds', () => {
  it('keeps a small send in one round', () => {
    const messages = [message(0, 1, 10), message(1, 2, 10), message(0, 3, 10)]
    expect(produceRounds(messages, 1_000_000)).toEqual([[messages[0], messages[2], messages[1]]])
  })

  it('cuts one partition of 2 MB into parts under the limit, in order (the one-run batch that was a 503 forever)', () => {
    const messages = Array.from({ length: 40 }, (_, i) => message(2, i, 50_000))
    const rounds = produceRounds(messages, 1_048_588)
    expect(rounds.length).toBe(2)
    for (const round of rounds) expect(round.reduce((a, m) => a + recordBytes(m), 0)).toBeLessThanOrEqual(1_048_588 - BATCH_OVERHEAD_BYTES)
    expect(rounds.flat()).toEqual(messages)
  })

  it('puts the r-th part of every partition in round r', () => {
    const messages = [message(0, 0, 600), message(1, 1, 600), message(0, 2, 600), message(1, 3, 600), message(2, 4, 10)]
    const rounds = produceRounds(messages, BATCH_OVERHEAD_BYTES + 1000)
    expect(rounds.map((r) => r.map((m) => m.value[0]))).toEqual([[0, 1, 4], [2, 3]])
  })

  it('sends a message larger than the limit alone rather than dropping it', () => {
    const messages = [message(0, 0, 10), message(0, 1, 5000), message(0, 2, 10)]
    expect(produceRounds(messages, BATCH_OVERHEAD_BYTES + 1000).map((r) => r.map((m) => m.value[0]))).toEqual([[0], [1], [2]])
  })
})
