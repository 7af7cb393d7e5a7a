import { z } from 'zod'
import { AUTH_ERRORS, bearer, component, errorResponse, int, isoTime, LIST_QUERY, pageOf, uuid, type RouteDoc } from './route-doc.ts'

const check = z.string().meta({ description: 'ok, unused (this process does not use it) or "error: ..."' })

export const Readiness = component(
  'Readiness',
  z
    .object({
      status: z.enum(['ok', 'unavailable']),
      checks: z.object({ kafka: check, postgres: check, clickhouse: check, redis: check }),
      processors: z.array(
        z.object({
          processor: z.string(),
          group: z.string(),
          state: z.enum(['ok', 'stalled']).meta({ description: 'stalled: messages wait and nothing was committed for a while' }),
          lag: int,
          last_commit_at: isoTime.nullable(),
        }),
      ),
    })
    .meta({ examples: [{ status: 'ok', checks: { kafka: 'ok', postgres: 'ok', clickhouse: 'ok', redis: 'ok' }, processors: [] }] }),
)

export const Lag = component(
  'Lag',
  z.object({ group: z.string(), topic: z.string(), partition: int, committed_offset: int, end_offset: int, lag: int }).meta({
    examples: [{ group: 'sluice-runs-funnel', topic: 'sluice.events', partition: 0, committed_offset: 1200, end_offset: 1200, lag: 0 }],
  }),
)

export const DeadLetter = component(
  'DeadLetter',
  z.object({
    id: uuid,
    topic: z.string(),
    partition: int,
    offset: int,
    processor: z.string(),
    reason: z.string().meta({ description: 'processing_failed, or why the message does not decode (corrupt_body, bad_magic, ...)' }),
    error: z.string(),
    project_id: z.string().nullable(),
    event_id: z.string().nullable(),
    event_type: z.string().nullable(),
    dead_lettered_at: isoTime,
    size: int.meta({ description: 'Bytes of the message value' }),
    replayed_at: isoTime.nullable(),
  }),
)

export const opsDocs = {
  health: {
    summary: 'Liveness: 200 while the process lives, with what runs',
    tags: ['operations'],
    response: {
      200: {
        description: 'Alive, and the Sluice and Node.js versions',
        body: z.object({ status: z.literal('ok'), version: z.object({ sluice: z.string(), node: z.string().meta({ examples: ['v24.22.3'] }) }) }),
      },
    },
  },
  ready: {
    summary: 'Readiness: every dependency this process uses answers and no processor is stalled',
    tags: ['operations'],
    response: {
      200: { description: 'Ready', body: Readiness },
      503: { description: 'A dependency does not answer, or a processor is stalled (the same body)', body: Readiness },
    },
  },
  metrics: {
    summary: 'Prometheus metrics (docs/metrics.md lists them)',
    tags: ['operations'],
    response: { 200: { description: 'The text exposition format', contentType: 'text/plain', body: z.string() } },
  },
  lag: {
    summary: 'Consumer lag per group, topic and partition',
    tags: ['operations'],
    security: bearer('admin'),
    response: { 200: { description: 'Every consumer group of Sluice', body: z.array(Lag) }, ...AUTH_ERRORS },
  },
  deadLetters: {
    summary: 'Messages a processor parked (undecodable, or failing alone 3 times), newest first',
    tags: ['operations'],
    security: bearer('admin'),
    queryDescriptions: LIST_QUERY,
    response: { ...pageOf(DeadLetter, 'A page of dead letters'), ...AUTH_ERRORS },
  },
  replay: {
    summary: 'Put dead letters back onto the events topic (same key and headers, plus x-sluice-replay-of)',
    tags: ['operations'],
    security: bearer('admin'),
    response: {
      200: { description: 'How many were replayed (those replayed before are skipped)', body: z.object({ replayed: int }) },
      400: errorResponse('An invalid body (SLUICE_ERR_VALIDATION)'),
      ...AUTH_ERRORS,
      404: errorResponse('An id is not a dead letter (SLUICE_ERR_NOT_FOUND)'),
      503: errorResponse('The broker did not acknowledge the replay; nothing was marked replayed (SLUICE_ERR_BROKER_UNAVAILABLE)'),
    },
  },
  openapi: {
    summary: 'This document (OpenAPI 3.1), generated from the routes\' schemas',
    tags: ['operations'],
    response: { 200: { description: 'OpenAPI 3.1', body: z.record(z.string(), z.unknown()) } },
  },
  docs: {
    summary: 'This document in Swagger UI',
    tags: ['operations'],
    response: { 200: { description: 'HTML', contentType: 'text/html', body: z.string() } },
  },
} satisfies Record<string, RouteDoc>
