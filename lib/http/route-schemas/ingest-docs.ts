import { z } from 'zod'
import { AUTH_ERRORS, bearer, component, errorResponse, EventError, int, uuid, type ResponseDoc, type RouteDoc } from './route-doc.ts'

/**
 * What `/ingest` and `POST /api/logs` take and answer, for the document only: the acceptor
 * (ingest/event-schema.ts) validates each event itself, so a batch is never checked twice.
 * api-document.integration.test.ts sends the examples below to the real routes and runs each
 * documented event through `normalizeEvent`, so this description cannot drift from what is accepted.
 */

const NAME = 200
const timeOrEpoch = z
  .union([z.string().meta({ format: 'date-time', description: 'ISO-8601 with a zone' }), int.meta({ description: 'epoch milliseconds' })])
  .meta({ description: 'Between 1970-01-01 and 2199-12-31' })
const name = z.string().min(1).max(NAME)
const limitedMap = (value: z.ZodType) => z.record(z.string().max(NAME), value).meta({ description: 'At most 200 keys' })
const count = int.min(0)
const jsonObject = z.record(z.string(), z.unknown())

export const RunStartData = component(
  'RunStartData',
  z.object({ run_id: uuid, name, tags: limitedMap(z.string().max(1000)).optional(), started_at: timeOrEpoch.nullish().meta({ description: "Default: the event's timestamp" }) }),
  'input',
)

export const StepCompleteData = component(
  'StepCompleteData',
  z.object({
    step_id: uuid,
    run_id: uuid,
    name,
    type: z.string().min(1).max(NAME).meta({ description: 'llm, retrieval, filter, logic, or any other name' }),
    inputs: jsonObject.nullish(),
    outputs: jsonObject.nullish(),
    metadata: jsonObject.nullish(),
    reasoning: z.string().nullish(),
    cost: z.number().nullish(),
    started_at: timeOrEpoch.nullish(),
    completed_at: timeOrEpoch.nullish(),
    error: z.string().nullish(),
    input_count: count.nullish(),
    output_count: count.nullish(),
    rejection_reasons: limitedMap(count).nullish().meta({ description: 'reason → how many candidates it rejected' }),
  }),
  'input',
)

export const RunCompleteData = component(
  'RunCompleteData',
  z.object({
    run_id: uuid,
    status: z.enum(['completed', 'failed']).meta({ description: 'Any case' }),
    completed_at: timeOrEpoch.nullish(),
    error: z.string().nullish(),
    total_cost: z.number().nullish().meta({ description: 'Default: the sum of the step costs' }),
  }),
  'input',
)

export const LogData = component(
  'LogData',
  z.object({
    level: z.enum(['debug', 'info', 'warn', 'warning', 'error', 'fatal', 'critical']).meta({ description: 'Any case; warning is stored as warn, critical as fatal' }),
    message: z.string().min(1),
    service: z.string().max(NAME).nullish(),
    attributes: limitedMap(z.union([z.string(), z.number(), z.boolean()])).optional(),
    run_id: uuid.nullish(),
    timestamp: timeOrEpoch.nullish(),
  }),
  'input',
)

const envelope = <T extends string>(type: T, data: z.ZodType) =>
  z.object({
    id: uuid.optional().meta({ description: 'Chosen by the client: a resent event with the same id is counted once. Made by the server when absent (then not retry-safe).' }),
    type: z.literal(type),
    timestamp: timeOrEpoch.optional(),
    data,
  })

export const Event = component(
  'Event',
  z
    .discriminatedUnion('type', [
      envelope('run_start', RunStartData),
      envelope('step_complete', StepCompleteData),
      envelope('run_complete', RunCompleteData),
      envelope('log', LogData),
    ])
    .meta({ description: 'An event of one of the four types; one that does not fit is refused alone (207)' }),
  'input',
)

const RUN_ID = '4f6c1d2e-8a9b-4c3d-9e8f-0a1b2c3d4e5f'
export const INGEST_EXAMPLE = {
  events: [
    { id: '6a1f0c3e-2b4d-4e5f-8a9b-0c1d2e3f4a5b', type: 'run_start', timestamp: '2026-11-22T01:02:03.456Z', data: { run_id: RUN_ID, name: 'competitor-search', tags: { env: 'prod' } } },
    {
      id: '7b2e1d4f-3c5e-4f6a-9b0c-1d2e3f4a5b6c',
      type: 'step_complete',
      timestamp: '2026-11-22T01:02:04.000Z',
      data: {
        step_id: '8c3f2e5a-4d6f-4a7b-8c1d-2e3f4a5b6c7d',
        run_id: RUN_ID,
        name: 'filter_by_price',
        type: 'filter',
        input_count: 120,
        output_count: 30,
        rejection_reasons: { too_expensive: 90 },
        cost: 0.002,
        started_at: '2026-11-22T01:02:03.500Z',
        completed_at: '2026-11-22T01:02:04.000Z',
      },
    },
    { id: '9d4a3f6b-5e7a-4b8c-9d2e-3f4a5b6c7d8e', type: 'run_complete', timestamp: 1795222925000, data: { run_id: RUN_ID, status: 'completed' } },
    { id: 'ae5b4a7c-6f8b-4c9d-8e3f-4a5b6c7d8e9f', type: 'log', data: { level: 'warning', message: 'price feed slow', service: 'search', attributes: { ms: 950 }, run_id: RUN_ID } },
  ],
}

export const IngestBody = z.object({ events: z.array(Event).meta({ description: 'At most 10,000 events (configurable), each at most 1 MiB as JSON' }) }).meta({ examples: [INGEST_EXAMPLE] })

export const LogInput = component('LogInput', LogData.extend({ id: uuid.optional() }), 'input')
export const LOGS_EXAMPLE = [{ id: 'bf6c5b8d-7a9c-4dae-9f4a-5b6c7d8e9fa0', level: 'error', message: 'payment declined', service: 'checkout', attributes: { region: 'eu', retry: false } }]
export const LogsBody = z.union([LogInput, z.array(LogInput)]).meta({ examples: [LOGS_EXAMPLE, { level: 'info', message: 'started' }] })

export const IngestOk = component('IngestOk', z.object({ status: z.literal('ok'), processed: int }).meta({ examples: [{ status: 'ok', processed: 4 }] }))
export const IngestPartial = component(
  'IngestPartial',
  z.object({ status: z.literal('partial'), processed: int, errors: z.array(EventError) }).meta({
    examples: [{ status: 'partial', processed: 3, errors: [{ index: 1, id: '7b2e1d4f-3c5e-4f6a-9b0c-1d2e3f4a5b6c', code: 'SLUICE_ERR_UNKNOWN_EVENT_TYPE', message: 'type must be one of run_start, step_complete, run_complete, log' }] }],
  }),
)

const OUTCOMES: Record<number, ResponseDoc> = {
  200: { description: 'All accepted, acknowledged by the broker', body: IngestOk },
  207: { description: 'Some events invalid, the rest accepted', body: IngestPartial },
  400: errorResponse('Not JSON, no events array, empty batch, `__proto__`/`constructor` keys, or no valid event (with `errors`)'),
  ...AUTH_ERRORS,
  413: errorResponse('Body or batch over the limits (the limits are in the message)'),
  415: errorResponse('Unsupported content type or encoding'),
  429: errorResponse('Rate limited; see Retry-After'),
  503: errorResponse('Broker unavailable: nothing accepted; see Retry-After'),
}

export const ingestDocs = {
  ingest: {
    summary: 'Send a batch of events (gzip accepted); answered once the broker acknowledged them',
    tags: ['ingest'],
    security: bearer('ingest'),
    body: IngestBody,
    response: OUTCOMES,
  },
  logs: {
    summary: 'Send one log or an array of logs (Reflex compatible); the same outcomes as /ingest',
    description: 'Error indexes refer to the positions in the array sent.',
    tags: ['ingest'],
    security: bearer('ingest'),
    body: LogsBody,
    response: OUTCOMES,
  },
} satisfies Record<string, RouteDoc>
