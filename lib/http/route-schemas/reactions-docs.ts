import { z } from 'zod'
import { CONDITION_OPS } from '../../reactions/conditions.ts'
import { SEVERITIES } from '../../reactions/reaction-schema.ts'
import { AUTH_ERRORS, bearer, component, errorResponse, int, isoTime, LIST_QUERY, pageOf, uuid, type RouteDoc } from './route-doc.ts'

export const Condition = component(
  'Condition',
  z.object({
    field: z.string().meta({ description: "A dot path into the event's data; step_complete adds dropped, drop_rate, duration_ms; run_complete adds duration_ms" }),
    op: z.enum(CONDITION_OPS),
    value: z.unknown().meta({ description: 'matches: an RE2 pattern (linear time; backreferences and lookaround are refused)' }),
  }),
)

export const Reaction = component(
  'Reaction',
  z
    .object({
      id: uuid,
      project_id: uuid,
      name: z.string(),
      enabled: z.boolean(),
      event_type: z.enum(['log', 'step_complete', 'run_complete']),
      conditions: z.array(Condition),
      threshold: z.object({ count: int, window_seconds: int }),
      group_by: z.array(z.string()),
      cooldown_seconds: int,
      severity: z.enum(SEVERITIES),
      actions: z.array(
        z.union([z.object({ type: z.literal('complaint') }), z.object({ type: z.literal('webhook'), url: z.string(), secret: z.string().meta({ description: 'Made by Sluice when not given' }) })]),
      ),
      created_at: isoTime,
      updated_at: isoTime,
    })
    .meta({
      examples: [
        {
          id: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d',
          project_id: '0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b',
          name: 'errors in eu',
          enabled: true,
          event_type: 'log',
          conditions: [
            { field: 'level', op: 'in', value: ['error', 'fatal'] },
            { field: 'attributes.region', op: 'eq', value: 'eu' },
          ],
          threshold: { count: 5, window_seconds: 60 },
          group_by: ['service'],
          cooldown_seconds: 0,
          severity: 'error',
          actions: [{ type: 'complaint' }, { type: 'webhook', url: 'https://hooks.example.com/sluice', secret: 'whsec_abc123def456' }],
          created_at: '2026-11-22T01:02:03.456Z',
          updated_at: '2026-11-22T01:02:03.456Z',
        },
      ],
    }),
)

const NOT_FOUND = errorResponse('No such reaction in this project (SLUICE_ERR_NOT_FOUND)')
const INVALID = errorResponse('An invalid rule or unknown field (SLUICE_ERR_VALIDATION), or a pattern that cannot run in linear time (SLUICE_ERR_INVALID_CONDITION)')

export const REACTION_EXAMPLE = {
  name: 'errors in eu',
  event_type: 'log',
  conditions: [
    { field: 'level', op: 'in', value: ['error', 'fatal'] },
    { field: 'attributes.region', op: 'eq', value: 'eu' },
  ],
  threshold: { count: 5, window_seconds: 60 },
  group_by: ['service'],
  actions: [{ type: 'complaint' }],
}

export const reactionsDocs = {
  create: {
    summary: "Create a reaction rule (project_id defaults to the key's project)",
    tags: ['reactions'],
    security: bearer('query'),
    response: { 201: { description: 'Created', body: Reaction }, 400: INVALID, ...AUTH_ERRORS, 404: errorResponse("Another project's id") },
  },
  list: {
    summary: "The project's reactions, newest first",
    tags: ['reactions'],
    security: bearer('query'),
    queryDescriptions: LIST_QUERY,
    response: { ...pageOf(Reaction, 'A page of reactions'), ...AUTH_ERRORS, 404: errorResponse("Not this key's project") },
  },
  update: {
    summary: 'Change a reaction (any field but id and project_id)',
    tags: ['reactions'],
    security: bearer('query'),
    response: { 200: { description: 'Updated', body: Reaction }, 400: INVALID, ...AUTH_ERRORS, 404: NOT_FOUND },
  },
  remove: {
    summary: 'Delete a reaction',
    tags: ['reactions'],
    security: bearer('query'),
    response: { 204: { description: 'Deleted' }, ...AUTH_ERRORS, 404: NOT_FOUND },
  },
} satisfies Record<string, RouteDoc>
