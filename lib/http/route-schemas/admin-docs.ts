import { z } from 'zod'
import { AUTH_ERRORS, bearer, component, errorResponse, isoTime, LIST_QUERY, NO_STORE, pageOf, timeBound, uuid, type RouteDoc } from './route-doc.ts'

const PROJECT_ID = '0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b'
const keyKind = z.enum(['ingest', 'query'])

export const Project = component(
  'Project',
  z.object({ id: uuid, name: z.string(), created_at: isoTime }).meta({ examples: [{ id: PROJECT_ID, name: 'shop', created_at: '2026-11-22T01:02:03.456Z' }] }),
)

export const NewProject = component(
  'NewProject',
  z
    .object({
      id: uuid,
      name: z.string(),
      ingest_key: z.string().meta({ description: 'Shown this once' }),
      query_key: z.string().meta({ description: 'Shown this once' }),
      created_at: isoTime,
    })
    .meta({
      examples: [{ id: PROJECT_ID, name: 'shop', ingest_key: 'sl_ingest_Ab3xQ9…', query_key: 'sl_query_Zt7kP2…', created_at: '2026-11-22T01:02:03.456Z' }],
    }),
)

export const ApiKey = component(
  'ApiKey',
  z.object({
    id: uuid,
    kind: keyKind,
    name: z.string().nullable(),
    prefix: z.string().meta({ description: "The key's first characters, to tell keys apart", examples: ['sl_ingest_Ab3x'] }),
    created_at: isoTime,
    last_used_at: isoTime.nullable().meta({ description: 'Updated at most once a minute' }),
    revoked_at: isoTime.nullable(),
  }),
)

export const NewApiKey = component(
  'NewApiKey',
  z.object({
    id: uuid,
    kind: keyKind,
    name: z.string().nullable(),
    key: z.string().meta({ description: 'Shown this once; only its SHA-256 digest is stored' }),
    prefix: z.string(),
    created_at: isoTime,
  }),
)

export const AuditEntry = component(
  'AuditEntry',
  z
    .object({
      id: uuid,
      at: isoTime,
      actor: z.object({ kind: z.enum(['admin', 'query']), key_id: uuid.nullable().meta({ description: 'null for the admin token' }) }),
      action: z.string().meta({
        description: 'project.created, key.created, key.revoked, reaction.created, reaction.updated, reaction.deleted, complaint.updated (status or note), dead_letter.replayed',
      }),
      target: z.object({ type: z.string(), id: z.string() }),
      project_id: uuid.nullable(),
      request_id: z.string().nullable().meta({ description: 'The x-request-id of the request that made the change' }),
      changes: z.unknown().meta({ description: 'What changed (`{field: {from, to}}` for updates); secrets and keys read `[redacted]`' }),
    })
    .meta({
      examples: [
        {
          id: '3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f',
          at: '2026-11-22T01:02:03.456Z',
          actor: { kind: 'admin', key_id: null },
          action: 'key.revoked',
          target: { type: 'key', id: '4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a' },
          project_id: PROJECT_ID,
          request_id: 'req-42',
          changes: { kind: 'ingest', prefix: 'sl_ingest_Ab3x', revoked: { from: false, to: true } },
        },
      ],
    }),
)

const NOT_FOUND = errorResponse("No such project (or key), or another project's (SLUICE_ERR_NOT_FOUND)")

export const adminDocs = {
  createProject: {
    summary: 'Create a project and its first ingest and query keys',
    tags: ['projects'],
    security: bearer('admin'),
    response: {
      201: { description: 'Created; the keys are shown this once', headers: NO_STORE, body: NewProject },
      400: errorResponse('A bad name (SLUICE_ERR_VALIDATION)'),
      ...AUTH_ERRORS,
    },
  },
  listProjects: {
    summary: 'Every project, newest first (no keys)',
    tags: ['projects'],
    security: bearer('admin'),
    queryDescriptions: LIST_QUERY,
    response: { ...pageOf(Project, 'A page of projects'), ...AUTH_ERRORS },
  },
  createKey: {
    summary: 'Create a key of the project (rotation: create, move the clients, revoke the old one)',
    tags: ['projects'],
    security: bearer('admin'),
    response: {
      201: { description: 'Created; the key is shown this once', headers: NO_STORE, body: NewApiKey },
      400: errorResponse('A bad kind or name (SLUICE_ERR_VALIDATION)'),
      ...AUTH_ERRORS,
      404: NOT_FOUND,
    },
  },
  listKeys: {
    summary: "The project's keys, newest first, without the keys themselves",
    tags: ['projects'],
    security: bearer('admin'),
    queryDescriptions: LIST_QUERY,
    response: { ...pageOf(ApiKey, 'A page of keys'), ...AUTH_ERRORS, 404: NOT_FOUND },
  },
  revokeKey: {
    summary: 'Revoke a key: every process refuses it (401) within 5 s; revoking again is 204',
    tags: ['projects'],
    security: bearer('admin'),
    response: { 204: { description: 'Revoked' }, ...AUTH_ERRORS, 404: NOT_FOUND },
  },
  audit: {
    summary: 'The audit log of every management write, newest first',
    tags: ['audit'],
    security: bearer('admin'),
    queryDescriptions: {
      project_id: "Only this project's entries",
      action: 'Only entries of this action, e.g. key.revoked',
      from: timeBound('at ≥ from'),
      to: timeBound('at < to'),
      ...LIST_QUERY,
    },
    response: { ...pageOf(AuditEntry, 'A page of audit entries'), ...AUTH_ERRORS },
  },
  projectAudit: {
    summary: "The audit log of the key's own project, newest first",
    tags: ['audit'],
    security: bearer('query'),
    queryDescriptions: {
      action: 'Only entries of this action, e.g. key.revoked',
      from: timeBound('at ≥ from'),
      to: timeBound('at < to'),
      ...LIST_QUERY,
    },
    response: { ...pageOf(AuditEntry, 'A page of audit entries'), ...AUTH_ERRORS, 404: errorResponse("Not this key's project") },
  },
} satisfies Record<string, RouteDoc>
