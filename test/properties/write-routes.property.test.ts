import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { propertyRuns, startPropertyApp } from '../helpers/property-app.ts'
import { anyText, deepValue, eventData, eventLike, jsonish, uuid, validEvent, validLogData, validReaction } from './arbitraries.ts'

// Any JSON body to the write routes: never a 5xx, never a hang, a Sluice code on every refusal,
// and the server healthy after. Real Kafka, Postgres and Redis.

const RUNS = propertyRuns(300)
const TIMEOUT_MS = Math.max(60_000, RUNS * 100)

/** A body as sent: JSON text of `value`, or bytes that may not be JSON at all. */
const asPayload = (value: fc.Arbitrary<unknown>) =>
  fc.oneof({ weight: 9, arbitrary: value.map((v) => JSON.stringify(v) ?? 'null') }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) })

const reactionLike = fc.record(
  {
    project_id: fc.oneof(uuid, anyText),
    name: fc.oneof(anyText, jsonish),
    enabled: fc.oneof(fc.boolean(), jsonish),
    event_type: fc.oneof(fc.constantFrom('log', 'step_complete', 'run_complete'), anyText),
    conditions: fc.oneof(
      fc.array(
        fc.record(
          {
            field: fc.oneof(fc.constantFrom('message', 'attributes.region', 'level', 'data.x.y'), anyText),
            op: fc.oneof(fc.constantFrom('eq', 'neq', 'contains', 'matches', 'gt', 'lt', 'in', 'exists'), anyText),
            value: fc.oneof(jsonish, deepValue, fc.constantFrom('(a+)+$', '[', '.*')),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 3 },
      ),
      jsonish,
    ),
    threshold: fc.oneof(fc.record({ count: fc.integer(), window_seconds: fc.integer() }, { requiredKeys: [] }), jsonish),
    group_by: fc.oneof(fc.array(anyText, { maxLength: 3 }), jsonish),
    cooldown_seconds: fc.oneof(fc.integer(), jsonish),
    severity: fc.oneof(fc.constantFrom('info', 'warning', 'error', 'critical'), anyText),
    actions: fc.oneof(
      fc.array(
        fc.oneof(
          fc.record({ type: fc.constant('complaint') }),
          fc.record(
            { type: fc.constant('webhook'), url: fc.oneof(fc.webUrl(), anyText), secret: fc.oneof(anyText, fc.string({ minLength: 8 })) },
            { requiredKeys: ['type'] },
          ),
        ),
        { maxLength: 2 },
      ),
      jsonish,
    ),
  },
  { requiredKeys: [] },
)

describe('write routes take any body without a 5xx', () => {
  let target: Awaited<ReturnType<typeof startPropertyApp>>

  beforeAll(async () => {
    target = await startPropertyApp()
  })
  afterAll(async () => {
    await target?.close()
  })

  const post = (url: string, key: () => string) => (payload: string | Buffer) =>
    target.expectSane({ method: 'POST', url, headers: { authorization: `Bearer ${key()}`, 'content-type': 'application/json' }, payload })

  it('POST /ingest', { timeout: TIMEOUT_MS }, async () => {
    const body = fc.oneof(
      { weight: 6, arbitrary: fc.record({ events: fc.array(fc.oneof(validEvent, eventLike), { minLength: 0, maxLength: 6 }) }) },
      { weight: 1, arbitrary: fc.record({ events: jsonish }) },
      { weight: 1, arbitrary: jsonish },
    )
    await fc.assert(fc.asyncProperty(asPayload(body), async (p) => void (await post('/ingest', () => target.project.ingest_key)(p))), { numRuns: RUNS })
    expect(target.statusesOf('POST /ingest')).toEqual(expect.arrayContaining([200, 207, 400]))
    expect(await target.expectHealthy()).toEqual([200, 200])
  })

  it('POST /api/logs', { timeout: TIMEOUT_MS }, async () => {
    const body = fc.oneof(
      { weight: 3, arbitrary: fc.oneof(validLogData(), eventData) },
      { weight: 3, arbitrary: fc.array(fc.oneof(validLogData(), eventData, jsonish), { maxLength: 6 }) },
      { weight: 1, arbitrary: jsonish },
    )
    await fc.assert(fc.asyncProperty(asPayload(body), async (p) => void (await post('/api/logs', () => target.project.ingest_key)(p))), { numRuns: RUNS })
    expect(target.statusesOf('POST /api/logs')).toEqual(expect.arrayContaining([200, 207, 400]))
    expect(await target.expectHealthy()).toEqual([200, 200])
  })

  it('POST /api/reactions', { timeout: TIMEOUT_MS }, async () => {
    const body = fc.oneof({ weight: 3, arbitrary: validReaction }, { weight: 3, arbitrary: reactionLike }, { weight: 1, arbitrary: jsonish })
    await fc.assert(fc.asyncProperty(asPayload(body), async (p) => void (await post('/api/reactions', () => target.project.query_key)(p))), { numRuns: RUNS })
    expect(target.statusesOf('POST /api/reactions')).toEqual(expect.arrayContaining([201, 400]))
    expect(await target.expectHealthy()).toEqual([200, 200])
  })
})
