import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { propertyRuns } from '../../test/helpers/property-app.ts'
import { createEventCodec, UndecodableEventError } from './event-codec.ts'
import { SAMPLE_ENVELOPES } from './sample-envelopes.ts'

// Whatever bytes reach a consumer, decode answers with an envelope or UndecodableEventError (which
// dead-letters the message), never another error and never a hang.

const RUNS = propertyRuns(500)
const HANG_MS = 2_000

describe('EventCodec.decode on any bytes', () => {
  const codec = createEventCodec()
  let encoded: Buffer[] = []

  beforeAll(async () => {
    encoded = await Promise.all(SAMPLE_ENVELOPES.map((e) => codec.encode(e)))
  })

  async function decodeOutcome(bytes: Buffer): Promise<'decoded' | 'undecodable'> {
    let timer: NodeJS.Timeout | undefined
    const hang = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`decode did not settle within ${HANG_MS} ms`)), HANG_MS)
    })
    try {
      await Promise.race([codec.decode(bytes), hang])
      return 'decoded'
    } catch (err) {
      if (err instanceof UndecodableEventError) return 'undecodable'
      throw err
    } finally {
      clearTimeout(timer)
    }
  }

  it('random bytes, and bytes behind each wire format header', { timeout: Math.max(30_000, RUNS * 5) }, async () => {
    const header = fc.constantFrom(Buffer.alloc(0), Buffer.from([0xc3, 0x01]), Buffer.from([0x00, 0, 0, 0, 1]), Buffer.from([0xc3]))
    const bytes = fc.tuple(header, fc.uint8Array({ maxLength: 200 })).map(([h, b]) => Buffer.concat([h, b]))
    await fc.assert(fc.asyncProperty(bytes, async (b) => void (await decodeOutcome(b))), { numRuns: RUNS })
  })

  it('real messages with bytes changed, cut or appended', { timeout: Math.max(30_000, RUNS * 5) }, async () => {
    const mutated = fc
      .tuple(fc.nat(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(), fc.uint8Array({ maxLength: 8 }))
      .map(([which, flips, cut, tail]) => {
        const original = encoded[which % encoded.length]!
        const b = Buffer.from(original)
        for (const [at, value] of flips) b[at % b.length] = value
        return Buffer.concat([b.subarray(0, b.length - (cut % 4)), Buffer.from(tail)])
      })
    const outcomes = new Set<string>()
    await fc.assert(fc.asyncProperty(mutated, async (b) => void outcomes.add(await decodeOutcome(b))), { numRuns: RUNS })
    expect(outcomes).toContain('undecodable')
  })
})
