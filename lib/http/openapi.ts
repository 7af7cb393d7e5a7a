/**
 * The OpenAPI 3.1 document of Sluice's HTTP API, served at /openapi.json (and listed at /docs).
 * It says what the HTTP contract (docs/api.md) says; `openapi.test.ts` checks that every route the server
 * registers is documented here and nothing else is.
 */
import { keysAuditPaths, keysAuditSchemas } from './openapi-keys-audit.ts'

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` })
const arrayOf = (schema: object) => ({ type: 'array', items: schema })
const json = (schema: object) => ({ 'application/json': { schema } })
const nullable = (type: string, extra: object = {}) => ({ type: [type, 'null'], ...extra })
const time = { type: 'string', format: 'date-time', example: '2026-11-22T01:02:03.456Z' }
const timeOrEpoch = { oneOf: [time, { type: 'integer', description: 'epoch milliseconds' }] }

const errorResponse = (description: string) => ({ description, content: json(ref('Error')) })
const AUTH_ERRORS = {
  401: errorResponse('Missing or unknown key (SLUICE_ERR_UNAUTHORIZED)'),
  403: errorResponse('A key of another kind (SLUICE_ERR_FORBIDDEN)'),
}
const paged = { Link: { description: 'URL of the next page: `<...>; rel="next"`; absent on the last page', schema: { type: 'string' } } }
const limitParam = { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } }
const cursorParam = { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'From the previous page\'s Link header' }
const queryTime = (name: string, description: string) => ({
  name,
  in: 'query',
  description: `${description}; ISO-8601 or epoch milliseconds`,
  schema: { type: 'string' },
})
const pathId = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string' } })
const bearer = (kind: string) => [{ [kind]: [] }]

const ingestOutcomes = {
  200: { description: 'All accepted, acknowledged by the broker', content: json(ref('IngestOk')) },
  207: { description: 'Some events invalid, the rest accepted', content: json(ref('IngestPartial')) },
  400: errorResponse('Not JSON, no events array, empty batch, forbidden keys, or no valid event (with `errors`)'),
  ...AUTH_ERRORS,
  413: errorResponse('Body or batch over the limits (limits in the message)'),
  415: errorResponse('Unsupported content type or encoding'),
  429: errorResponse('Rate limited; see Retry-After'),
  503: errorResponse('Broker unavailable: nothing accepted; see Retry-After'),
}

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Sluice',
    version: '1.0.0',
    description: 'Ingestion and stream analytics for decision pipelines. Errors carry a `code` listed in docs/errors.md.',
  },
  components: {
    securitySchemes: {
      admin: { type: 'http', scheme: 'bearer', description: 'SLUICE_ADMIN_TOKEN' },
      ingest: { type: 'http', scheme: 'bearer', description: 'A project\'s ingest key (write-only)' },
      query: { type: 'http', scheme: 'bearer', description: 'A project\'s query key' },
    },
    schemas: {
      Error: {
        type: 'object',
        required: ['statusCode', 'error', 'code', 'message'],
        properties: {
          statusCode: { type: 'integer' },
          error: { type: 'string' },
          code: { type: 'string', example: 'SLUICE_ERR_INVALID_JSON' },
          message: { type: 'string' },
          errors: arrayOf(ref('EventError')),
        },
      },
      EventError: {
        type: 'object',
        required: ['index', 'id', 'code', 'message'],
        properties: { index: { type: 'integer' }, id: nullable('string'), code: { type: 'string' }, message: { type: 'string' } },
      },
      Event: {
        type: 'object',
        required: ['type', 'data'],
        properties: {
          id: { type: 'string', format: 'uuid', description: 'Client-chosen; makes retries safe. Made by the server when absent.' },
          type: { type: 'string', enum: ['run_start', 'step_complete', 'run_complete', 'log'] },
          timestamp: timeOrEpoch,
          data: { type: 'object', description: 'See the contract for the fields of each type' },
        },
      },
      IngestOk: { type: 'object', properties: { status: { const: 'ok' }, processed: { type: 'integer' } } },
      IngestPartial: {
        type: 'object',
        properties: { status: { const: 'partial' }, processed: { type: 'integer' }, errors: arrayOf(ref('EventError')) },
      },
      Project: {
        type: 'object',
        required: ['id', 'name', 'created_at'],
        properties: { id: { type: 'string', format: 'uuid' }, name: { type: 'string' }, created_at: time },
      },
      NewProject: {
        type: 'object',
        properties: {
          id: { type: 'string', format: 'uuid' },
          name: { type: 'string' },
          ingest_key: { type: 'string', description: 'Shown once' },
          query_key: { type: 'string', description: 'Shown once' },
          created_at: time,
        },
      },
      ...keysAuditSchemas,
      Run: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          name: { type: 'string' },
          status: { type: 'string', enum: ['RUNNING', 'COMPLETED', 'FAILED'] },
          total_cost: nullable('number'),
          tags: { type: 'object', additionalProperties: { type: 'string' } },
          started_at: time,
          completed_at: nullable('string', { format: 'date-time' }),
          error: nullable('string'),
          created_at: time,
          step_count: { type: 'integer' },
        },
      },
      Step: {
        type: 'object',
        description: 'The step_complete data, plus id (= step_id) and created_at',
        properties: {
          id: { type: 'string' },
          step_id: { type: 'string' },
          run_id: { type: 'string' },
          name: { type: 'string' },
          type: { type: 'string' },
          inputs: nullable('object'),
          outputs: nullable('object'),
          metadata: nullable('object'),
          reasoning: nullable('string'),
          cost: nullable('number'),
          started_at: nullable('string', { format: 'date-time' }),
          completed_at: nullable('string', { format: 'date-time' }),
          error: nullable('string'),
          input_count: nullable('integer'),
          output_count: nullable('integer'),
          rejection_reasons: nullable('object', { additionalProperties: { type: 'integer' } }),
          created_at: time,
        },
      },
      Analysis: {
        type: 'object',
        properties: {
          run: ref('Run'),
          funnel: arrayOf({
            type: 'object',
            properties: {
              step_id: { type: 'string' },
              name: { type: 'string' },
              type: { type: 'string' },
              input_count: nullable('integer'),
              output_count: nullable('integer'),
              dropped: nullable('integer', { description: 'max(input_count - output_count, 0)' }),
              drop_rate: nullable('number', { description: 'dropped / input_count (0 when input_count is 0)' }),
              rejection_reasons: { type: 'object', additionalProperties: { type: 'integer' } },
              duration_ms: nullable('number'),
              cost: nullable('number'),
            },
          }),
          summary: {
            type: 'object',
            properties: {
              initial_count: nullable('integer'),
              final_count: nullable('integer'),
              overall_drop_rate: nullable('number'),
              total_cost: nullable('number'),
              total_duration_ms: nullable('number'),
            },
          },
          final_outputs: { description: 'outputs of the last step' },
        },
      },
      PipelineStep: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          runs: { type: 'integer' },
          input_count: nullable('integer'),
          output_count: nullable('integer'),
          dropped: nullable('integer'),
          drop_rate: nullable('number'),
          rejection_reasons: { type: 'object', additionalProperties: { type: 'integer' } },
          p50_duration_ms: nullable('number', { description: 'approximate (within 0.5 %)' }),
          p95_duration_ms: nullable('number', { description: 'approximate (within 0.5 %)' }),
          avg_cost: nullable('number'),
        },
      },
      Log: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          timestamp: time,
          level: { type: 'string', enum: ['debug', 'info', 'warn', 'error', 'fatal'] },
          service: nullable('string'),
          message: { type: 'string' },
          attributes: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
          run_id: nullable('string'),
          received_at: time,
        },
      },
      LogInput: {
        type: 'object',
        required: ['level', 'message'],
        properties: {
          id: { type: 'string', format: 'uuid' },
          level: { type: 'string', description: 'debug, info, warn (warning), error, fatal (critical)' },
          message: { type: 'string' },
          service: { type: 'string' },
          attributes: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
          run_id: { type: 'string', format: 'uuid' },
          timestamp: timeOrEpoch,
        },
      },
      Condition: {
        type: 'object',
        required: ['field', 'op'],
        properties: {
          field: { type: 'string', description: 'Dot path into the event data; steps add dropped, drop_rate, duration_ms; run completions add duration_ms' },
          op: { type: 'string', enum: ['eq', 'neq', 'in', 'nin', 'contains', 'not_contains', 'starts_with', 'gt', 'gte', 'lt', 'lte', 'exists', 'matches'] },
          value: { description: 'matches: an RE2 pattern (linear time; backreferences and lookaround are refused)' },
        },
      },
      Reaction: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          project_id: { type: 'string' },
          name: { type: 'string' },
          enabled: { type: 'boolean' },
          event_type: { type: 'string', enum: ['log', 'step_complete', 'run_complete'] },
          conditions: arrayOf(ref('Condition')),
          threshold: { type: 'object', properties: { count: { type: 'integer', default: 1 }, window_seconds: { type: 'integer', default: 60 } } },
          group_by: arrayOf({ type: 'string' }),
          cooldown_seconds: { type: 'integer' },
          severity: { type: 'string', enum: ['info', 'warning', 'error', 'critical'] },
          actions: arrayOf({
            type: 'object',
            properties: { type: { type: 'string', enum: ['complaint', 'webhook'] }, url: { type: 'string' }, secret: { type: 'string' } },
          }),
          created_at: time,
          updated_at: time,
        },
      },
      Complaint: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          project_id: { type: 'string' },
          reaction_id: { type: 'string' },
          fingerprint: { type: 'string' },
          group: { type: 'object' },
          title: { type: 'string' },
          severity: { type: 'string' },
          status: { type: 'string', enum: ['open', 'acknowledged', 'resolved'] },
          occurrences: { type: 'integer' },
          first_seen_at: time,
          last_seen_at: time,
          sample_event: {},
          note: nullable('string'),
          created_at: time,
          updated_at: time,
          resolved_at: nullable('string', { format: 'date-time' }),
        },
      },
      Delivery: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          action: { type: 'string' },
          url: { type: 'string' },
          status: { type: 'string', enum: ['pending', 'succeeded', 'failed'] },
          attempts: { type: 'integer' },
          last_status_code: nullable('integer'),
          last_error: nullable('string'),
          next_attempt_at: nullable('string', { format: 'date-time' }),
          created_at: time,
          updated_at: time,
        },
      },
      DeadLetter: {
        type: 'object',
        properties: {
          id: { type: 'string', format: 'uuid' },
          topic: { type: 'string' },
          partition: { type: 'integer' },
          offset: { type: 'integer' },
          processor: { type: 'string' },
          reason: { type: 'string', description: 'processing_failed, or why it does not decode (corrupt_body, bad_magic, ...)' },
          error: { type: 'string' },
          project_id: nullable('string'),
          event_id: nullable('string'),
          event_type: nullable('string'),
          dead_lettered_at: time,
          size: { type: 'integer', description: 'bytes of the message value' },
          replayed_at: nullable('string', { format: 'date-time' }),
        },
      },
      Lag: {
        type: 'object',
        properties: {
          group: { type: 'string' },
          topic: { type: 'string' },
          partition: { type: 'integer' },
          committed_offset: { type: 'integer' },
          end_offset: { type: 'integer' },
          lag: { type: 'integer' },
        },
      },
    },
  },
  paths: {
    '/api/projects': {
      post: {
        summary: 'Create a project and its keys',
        security: bearer('admin'),
        requestBody: { required: true, content: json({ type: 'object', required: ['name'], properties: { name: { type: 'string' } } }) },
        responses: {
          201: { description: 'Created; the keys are shown this once', headers: { 'Cache-Control': { description: '`no-store`', schema: { type: 'string' } } }, content: json(ref('NewProject')) },
          400: errorResponse('Bad name'),
          ...AUTH_ERRORS,
        },
      },
      get: {
        summary: 'Every project, newest first (no keys)',
        security: bearer('admin'),
        parameters: [limitParam, cursorParam],
        responses: { 200: { description: 'A page of projects', headers: paged, content: json(arrayOf(ref('Project'))) }, 400: errorResponse('Bad parameter or cursor'), ...AUTH_ERRORS },
      },
    },
    ...keysAuditPaths,
    '/ingest': {
      post: {
        summary: 'Send a batch of events (gzip accepted); answered after the broker acknowledged them',
        security: bearer('ingest'),
        requestBody: { required: true, content: json({ type: 'object', required: ['events'], properties: { events: arrayOf(ref('Event')) } }) },
        responses: ingestOutcomes,
      },
    },
    '/runs': {
      get: {
        summary: 'Runs, newest started_at first',
        security: bearer('query'),
        parameters: [
          { name: 'name', in: 'query', schema: { type: 'string' } },
          { name: 'status', in: 'query', schema: { type: 'string' }, description: 'running, completed or failed (any case)' },
          { name: 'tag', in: 'query', schema: arrayOf({ type: 'string' }), description: 'key:value; may repeat, all must hold' },
          queryTime('from', 'started_at ≥ from'),
          queryTime('to', 'started_at < to'),
          limitParam,
          cursorParam,
        ],
        responses: { 200: { description: 'A page of runs', headers: paged, content: json(arrayOf(ref('Run'))) }, 400: errorResponse('Bad parameter'), ...AUTH_ERRORS },
      },
    },
    '/runs/{id}': {
      get: {
        summary: 'One run',
        security: bearer('query'),
        parameters: [pathId('id')],
        responses: { 200: { description: 'The run', content: json(ref('Run')) }, ...AUTH_ERRORS, 404: errorResponse('No such run in this project') },
      },
    },
    '/runs/{id}/steps': {
      get: {
        summary: 'Steps of a run, by started_at then arrival',
        security: bearer('query'),
        parameters: [pathId('id'), limitParam, cursorParam],
        responses: {
          200: { description: 'A page of steps', headers: paged, content: json(arrayOf(ref('Step'))) },
          ...AUTH_ERRORS,
          404: errorResponse('No such run in this project'),
        },
      },
    },
    '/analyze/{run_id}': {
      get: {
        summary: 'The run\'s candidate funnel and summary',
        security: bearer('query'),
        parameters: [pathId('run_id')],
        responses: { 200: { description: 'Analysis', content: json(ref('Analysis')) }, ...AUTH_ERRORS, 404: errorResponse('No such run in this project') },
      },
    },
    '/pipelines/{name}/funnel': {
      get: {
        summary: 'The funnel over every run of a pipeline started in [from, to), one entry per step name',
        security: bearer('query'),
        parameters: [pathId('name'), queryTime('from', 'runs started at or after'), queryTime('to', 'runs started before')],
        responses: { 200: { description: 'Steps in the order they usually run', content: json(arrayOf(ref('PipelineStep'))) }, 400: errorResponse('Bad parameter'), ...AUTH_ERRORS },
      },
    },
    '/api/logs': {
      post: {
        summary: 'Send one log or an array of logs (Reflex compatible); same outcomes as /ingest',
        security: bearer('ingest'),
        requestBody: { required: true, content: json({ oneOf: [ref('LogInput'), arrayOf(ref('LogInput'))] }) },
        responses: ingestOutcomes,
      },
      get: {
        summary: 'Logs, newest first',
        security: bearer('query'),
        parameters: [
          { name: 'level', in: 'query', schema: { type: 'string' }, description: 'comma list' },
          { name: 'min_level', in: 'query', schema: { type: 'string' } },
          { name: 'service', in: 'query', schema: { type: 'string' } },
          { name: 'q', in: 'query', schema: { type: 'string' }, description: 'case-insensitive substring of message' },
          { name: 'run_id', in: 'query', schema: { type: 'string' } },
          queryTime('from', 'timestamp ≥ from'),
          queryTime('to', 'timestamp < to'),
          limitParam,
          cursorParam,
        ],
        responses: { 200: { description: 'A page of logs', headers: paged, content: json(arrayOf(ref('Log'))) }, 400: errorResponse('Bad parameter'), ...AUTH_ERRORS },
      },
    },
    '/api/logs/stats': {
      get: {
        summary: 'Log counts per interval and level',
        security: bearer('query'),
        parameters: [
          { name: 'interval', in: 'query', schema: { type: 'string', default: '1m' }, description: '30s, 1m, 5m, 1h, 1d …' },
          queryTime('from', 'default: 24 hours before to'),
          queryTime('to', 'default: now'),
          { name: 'service', in: 'query', schema: { type: 'string' } },
        ],
        responses: {
          200: { description: 'Buckets, oldest first', content: json(arrayOf({ type: 'object', properties: { ts: time, level: { type: 'string' }, count: { type: 'integer' } } })) },
          400: errorResponse('Bad parameter or too many buckets'),
          ...AUTH_ERRORS,
        },
      },
    },
    '/api/reactions': {
      post: {
        summary: 'Create a reaction rule (project_id defaults to the key\'s project)',
        security: bearer('query'),
        requestBody: { required: true, content: json(ref('Reaction')) },
        responses: {
          201: { description: 'Created', content: json(ref('Reaction')) },
          400: errorResponse('Invalid rule, unknown field, or a pattern that cannot run in linear time (SLUICE_ERR_INVALID_CONDITION)'),
          ...AUTH_ERRORS,
          404: errorResponse('Another project\'s id'),
        },
      },
    },
    '/api/reactions/{project_id}': {
      get: {
        summary: 'The project\'s reactions, newest first',
        security: bearer('query'),
        parameters: [pathId('project_id'), limitParam, cursorParam],
        responses: { 200: { description: 'Reactions', headers: paged, content: json(arrayOf(ref('Reaction'))) }, ...AUTH_ERRORS, 404: errorResponse('Not this key\'s project') },
      },
    },
    '/api/reactions/{id}': {
      patch: {
        summary: 'Change a reaction (any field but id and project_id)',
        security: bearer('query'),
        parameters: [pathId('id')],
        requestBody: { required: true, content: json(ref('Reaction')) },
        responses: { 200: { description: 'Updated', content: json(ref('Reaction')) }, 400: errorResponse('Invalid change'), ...AUTH_ERRORS, 404: errorResponse('No such reaction in this project') },
      },
      delete: {
        summary: 'Delete a reaction',
        security: bearer('query'),
        parameters: [pathId('id')],
        responses: { 204: { description: 'Deleted' }, ...AUTH_ERRORS, 404: errorResponse('No such reaction in this project') },
      },
    },
    '/api/complaints/{id}': {
      get: {
        summary: 'With the key\'s project id: its complaints, newest first (status filter). With a complaint id: that complaint.',
        security: bearer('query'),
        parameters: [pathId('id'), { name: 'status', in: 'query', schema: { type: 'string', enum: ['open', 'acknowledged', 'resolved'] } }, limitParam, cursorParam],
        responses: {
          200: { description: 'An array of Complaint, or one Complaint', headers: paged, content: json({ oneOf: [arrayOf(ref('Complaint')), ref('Complaint')] }) },
          ...AUTH_ERRORS,
          404: errorResponse('Neither this project nor one of its complaints'),
        },
      },
      patch: {
        summary: 'Change status (and note); resolving sets resolved_at',
        security: bearer('query'),
        parameters: [pathId('id')],
        requestBody: {
          required: true,
          content: json({ type: 'object', required: ['status'], additionalProperties: false, properties: { status: { type: 'string', enum: ['open', 'acknowledged', 'resolved'] }, note: nullable('string') } }),
        },
        responses: {
          200: { description: 'Updated', content: json(ref('Complaint')) },
          400: errorResponse('Another field than status and note'),
          ...AUTH_ERRORS,
          404: errorResponse('No such complaint in this project'),
          409: errorResponse('Reopening while another complaint of the fingerprint is open (SLUICE_ERR_CONFLICT)'),
        },
      },
    },
    '/api/complaints/{id}/deliveries': {
      get: {
        summary: 'Webhook deliveries of a complaint, oldest first',
        security: bearer('query'),
        parameters: [pathId('id'), limitParam, cursorParam],
        responses: { 200: { description: 'Deliveries', content: json(arrayOf(ref('Delivery'))) }, ...AUTH_ERRORS, 404: errorResponse('No such complaint in this project') },
      },
    },
    '/health': {
      get: {
        summary: 'Liveness',
        responses: {
          200: {
            description: 'Alive, and what runs: Sluice and Node.js versions',
            content: json({
              type: 'object',
              properties: {
                status: { const: 'ok' },
                version: { type: 'object', properties: { sluice: { type: 'string' }, node: { type: 'string', examples: ['v24.22.3'] } } },
              },
            }),
          },
        },
      },
    },
    '/ready': {
      get: {
        summary: 'Readiness: every dependency this process uses answers',
        responses: {
          200: {
            description: 'Ready (503 has the same body: a dependency does not answer, or a processor is stalled)',
            content: json({
              type: 'object',
              properties: {
                status: { type: 'string', enum: ['ok', 'unavailable'] },
                checks: { type: 'object', description: 'kafka, postgres, clickhouse, redis: ok, unused or "error: ..."' },
                processors: arrayOf({
                  type: 'object',
                  properties: {
                    processor: { type: 'string' },
                    group: { type: 'string' },
                    state: { type: 'string', enum: ['ok', 'stalled'] },
                    lag: { type: 'integer' },
                    last_commit_at: nullable('string', { format: 'date-time' }),
                  },
                }),
              },
            }),
          },
          503: { description: 'A dependency does not answer' },
        },
      },
    },
    '/metrics': { get: { summary: 'Prometheus metrics', responses: { 200: { description: 'Text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
    '/api/ops/lag': {
      get: {
        summary: 'Consumer lag per group, topic and partition',
        security: bearer('admin'),
        responses: { 200: { description: 'Lag', content: json(arrayOf(ref('Lag'))) }, ...AUTH_ERRORS },
      },
    },
    '/api/ops/dead-letters': {
      get: {
        summary: 'Messages a processor parked (undecodable, or failing alone 3 times), newest first',
        security: bearer('admin'),
        parameters: [limitParam, cursorParam],
        responses: { 200: { description: 'Dead letters', headers: paged, content: json(arrayOf(ref('DeadLetter'))) }, 400: errorResponse('Bad limit or cursor'), ...AUTH_ERRORS },
      },
    },
    '/api/ops/dead-letters/replay': {
      post: {
        summary: 'Put dead letters back onto the events topic (same key and headers, plus x-sluice-replay-of)',
        security: bearer('admin'),
        requestBody: {
          required: true,
          content: json({
            oneOf: [
              { type: 'object', required: ['ids'], properties: { ids: arrayOf({ type: 'string', format: 'uuid' }) }, additionalProperties: false },
              { type: 'object', required: ['all'], properties: { all: { const: true } }, additionalProperties: false },
            ],
          }),
        },
        responses: {
          200: { description: 'How many were replayed (those replayed before are skipped)', content: json({ type: 'object', properties: { replayed: { type: 'integer' } } }) },
          400: errorResponse('Invalid body'),
          404: errorResponse('An id is not a dead letter'),
          503: errorResponse('The broker did not acknowledge the replay; nothing was marked replayed'),
          ...AUTH_ERRORS,
        },
      },
    },
    '/openapi.json': { get: { summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1' } } } },
    '/docs': { get: { summary: 'A browsable list of the routes', responses: { 200: { description: 'HTML' } } } },
  },
} as const
