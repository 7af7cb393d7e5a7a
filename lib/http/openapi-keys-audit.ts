/**
 * The OpenAPI paths and schemas of projects listing, keys and the audit log, spread into
 * openapi.ts (kept apart so that neither file grows past a screenful of routes).
 */

// The same small builders as openapi.ts; repeated rather than imported, as openapi.ts imports this file.
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` })
const arrayOf = (schema: object) => ({ type: 'array', items: schema })
const json = (schema: object) => ({ 'application/json': { schema } })
const nullable = (type: string, extra: object = {}) => ({ type: [type, 'null'], ...extra })
const time = { type: 'string', format: 'date-time', example: '2026-11-22T01:02:03.456Z' }
const errorResponse = (description: string) => ({ description, content: json(ref('Error')) })
const AUTH_ERRORS = {
  401: errorResponse('Missing, unknown or revoked key (SLUICE_ERR_UNAUTHORIZED)'),
  403: errorResponse('A key of another kind (SLUICE_ERR_FORBIDDEN)'),
}
const paged = { Link: { description: 'URL of the next page: `<...>; rel="next"`; absent on the last page', schema: { type: 'string' } } }
const noStore = { 'Cache-Control': { description: '`no-store`: the body holds a key', schema: { type: 'string', const: 'no-store' } } }
const limitParam = { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } }
const cursorParam = { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'From the previous page\'s Link header' }
const pathId = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string' } })
const bearer = (kind: string) => [{ [kind]: [] }]
const notFound = errorResponse('No such project (or key), or another project\'s (SLUICE_ERR_NOT_FOUND)')
const keyKind = { type: 'string', enum: ['ingest', 'query'] }

const auditFilters = [
  { name: 'action', in: 'query', schema: { type: 'string' }, description: 'e.g. `key.revoked`, `reaction.updated`' },
  { name: 'from', in: 'query', schema: { type: 'string' }, description: 'at ≥ from; ISO-8601 or epoch milliseconds' },
  { name: 'to', in: 'query', schema: { type: 'string' }, description: 'at < to; ISO-8601 or epoch milliseconds' },
  limitParam,
  cursorParam,
]

export const keysAuditSchemas = {
  ApiKey: {
    type: 'object',
    required: ['id', 'kind', 'name', 'prefix', 'created_at', 'last_used_at', 'revoked_at'],
    properties: {
      id: { type: 'string', format: 'uuid' },
      kind: keyKind,
      name: nullable('string'),
      prefix: { type: 'string', description: 'The key\'s first characters, to tell keys apart', example: 'sl_ingest_Ab3x' },
      created_at: time,
      last_used_at: nullable('string', { format: 'date-time', description: 'Updated at most once a minute' }),
      revoked_at: nullable('string', { format: 'date-time' }),
    },
  },
  NewApiKey: {
    type: 'object',
    required: ['id', 'kind', 'name', 'key', 'prefix', 'created_at'],
    properties: {
      id: { type: 'string', format: 'uuid' },
      kind: keyKind,
      name: nullable('string'),
      key: { type: 'string', description: 'Shown this once; only its SHA-256 digest is stored' },
      prefix: { type: 'string' },
      created_at: time,
    },
  },
  AuditEntry: {
    type: 'object',
    required: ['id', 'at', 'actor', 'action', 'target', 'project_id', 'request_id', 'changes'],
    properties: {
      id: { type: 'string', format: 'uuid' },
      at: time,
      actor: {
        type: 'object',
        properties: { kind: { type: 'string', enum: ['admin', 'query'] }, key_id: nullable('string', { format: 'uuid', description: 'null for the admin token' }) },
      },
      action: {
        type: 'string',
        description: 'One of project.created, key.created, key.revoked, reaction.created, reaction.updated, reaction.deleted, complaint.updated (status or note), dead_letter.replayed',
      },
      target: { type: 'object', properties: { type: { type: 'string', example: 'reaction' }, id: { type: 'string' } } },
      project_id: nullable('string', { format: 'uuid' }),
      request_id: nullable('string', { description: 'The x-request-id of the request that made the change' }),
      changes: { type: 'object', description: 'What changed (`{field: {from, to}}` for updates); secrets and keys read `[redacted]`' },
    },
  },
} as const

export const keysAuditPaths = {
  '/api/projects/{id}/keys': {
    post: {
      summary: 'Create a key of the project (rotation: create, move clients, revoke the old one)',
      security: bearer('admin'),
      parameters: [pathId('id')],
      requestBody: { required: true, content: json({ type: 'object', required: ['kind'], additionalProperties: false, properties: { kind: keyKind, name: { type: 'string', maxLength: 200 } } }) },
      responses: { 201: { description: 'Created; the key is shown this once', headers: noStore, content: json(ref('NewApiKey')) }, 400: errorResponse('Bad kind or name'), ...AUTH_ERRORS, 404: notFound },
    },
    get: {
      summary: 'The project\'s keys, newest first, without the keys themselves',
      security: bearer('admin'),
      parameters: [pathId('id'), limitParam, cursorParam],
      responses: { 200: { description: 'Keys', headers: paged, content: json(arrayOf(ref('ApiKey'))) }, 400: errorResponse('Bad parameter or cursor'), ...AUTH_ERRORS, 404: notFound },
    },
  },
  '/api/projects/{id}/keys/{key_id}': {
    delete: {
      summary: 'Revoke a key: every process refuses it (401) within 5 s; revoking again is 204',
      security: bearer('admin'),
      parameters: [pathId('id'), pathId('key_id')],
      responses: { 204: { description: 'Revoked' }, ...AUTH_ERRORS, 404: notFound },
    },
  },
  '/api/audit': {
    get: {
      summary: 'The audit log of every management write, newest first',
      security: bearer('admin'),
      parameters: [{ name: 'project_id', in: 'query', schema: { type: 'string', format: 'uuid' } }, ...auditFilters],
      responses: { 200: { description: 'A page of audit entries', headers: paged, content: json(arrayOf(ref('AuditEntry'))) }, 400: errorResponse('Bad parameter or cursor'), ...AUTH_ERRORS },
    },
  },
  '/api/projects/{id}/audit': {
    get: {
      summary: 'The audit log of the key\'s own project, newest first',
      security: bearer('query'),
      parameters: [pathId('id'), ...auditFilters],
      responses: { 200: { description: 'A page of audit entries', headers: paged, content: json(arrayOf(ref('AuditEntry'))) }, 400: errorResponse('Bad parameter or cursor'), ...AUTH_ERRORS, 404: errorResponse('Not this key\'s project') },
    },
  },
} as const
