import { describe, expect, it } from 'vitest'
import { restartDelayMs } from './ingest-workers.ts'

describe('restartDelayMs', () => {
  it('waits a second after a healthy worker died, and doubles for each young death in a row up to 30 s', () => {
    expect(restartDelayMs(0)).toBe(1_000)
    expect(restartDelayMs(1)).toBe(1_000)
    expect(restartDelayMs(2)).toBe(2_000)
    expect(restartDelayMs(3)).toBe(4_000)
    expect(restartDelayMs(6)).toBe(30_000)
    expect(restartDelayMs(60)).toBe(30_000)
  })
})
