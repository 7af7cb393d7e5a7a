import { describe, expect, it } from 'vitest'
import { ingestOutcome } from './ingest-outcome.ts'

describe('ingestOutcome', () => {
  it('names each answer of /ingest as the metric help says', () => {
    const statuses = [200, 207, 400, 415, 401, 403, 413, 429, 503, 500]
    expect(statuses.map(ingestOutcome)).toEqual(['ok', 'partial', 'invalid', 'invalid', 'unauthorized', 'unauthorized', 'too_large', 'rate_limited', 'unavailable', 'error'])
  })
})
