import { z } from 'zod'
import { AUTH_ERRORS, bearer, component, errorResponse, int, isoTime, LIST_QUERY, PAGED, pageOf, uuid, type RouteDoc } from './route-doc.ts'

export const Complaint = component(
  'Complaint',
  z
    .object({
      id: uuid,
      project_id: uuid,
      reaction_id: uuid,
      fingerprint: z.string().meta({ description: 'The rule id plus the values of its group_by fields' }),
      group: z.record(z.string(), z.unknown()).meta({ description: '{field: value} for each group_by field' }),
      title: z.string(),
      severity: z.string(),
      status: z.enum(['open', 'acknowledged', 'resolved']),
      occurrences: int,
      first_seen_at: isoTime,
      last_seen_at: isoTime,
      sample_event: z.unknown(),
      note: z.string().nullable(),
      created_at: isoTime,
      updated_at: isoTime,
      resolved_at: isoTime.nullable(),
    })
    .meta({
      examples: [
        {
          id: '2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e',
          project_id: '0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b',
          reaction_id: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d',
          fingerprint: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d|checkout',
          group: { service: 'checkout' },
          title: 'errors in eu',
          severity: 'error',
          status: 'open',
          occurrences: 5,
          first_seen_at: '2026-11-22T01:02:03.456Z',
          last_seen_at: '2026-11-22T01:02:40.000Z',
          sample_event: { level: 'error', message: 'payment declined' },
          note: null,
          created_at: '2026-11-22T01:02:40.010Z',
          updated_at: '2026-11-22T01:02:40.010Z',
          resolved_at: null,
        },
      ],
    }),
)

export const Delivery = component(
  'Delivery',
  z.object({
    id: uuid,
    action: z.string(),
    url: z.string(),
    status: z.enum(['pending', 'succeeded', 'failed']),
    attempts: int,
    last_status_code: int.nullable(),
    last_error: z.string().nullable(),
    next_attempt_at: isoTime.nullable(),
    created_at: isoTime,
    updated_at: isoTime,
  }),
)

const NOT_FOUND = errorResponse('No such complaint in this project (SLUICE_ERR_NOT_FOUND)')

export const complaintsDocs = {
  get: {
    summary: "With the key's project id: its complaints, newest first. With a complaint id: that complaint.",
    description: 'Project ids and complaint ids are both UUIDs made by Sluice, so one never passes for the other.',
    tags: ['complaints'],
    security: bearer('query'),
    queryDescriptions: { status: 'With a project id: only complaints in this status (any case)', ...LIST_QUERY },
    response: {
      200: { description: 'A page of complaints (project id), or one complaint', headers: PAGED, body: z.union([z.array(Complaint), Complaint]) },
      400: errorResponse('A bad parameter or cursor (SLUICE_ERR_VALIDATION, SLUICE_ERR_INVALID_CURSOR)'),
      ...AUTH_ERRORS,
      404: errorResponse('Neither this project nor one of its complaints'),
    },
  },
  update: {
    summary: 'Change the status (and note); resolving sets resolved_at',
    tags: ['complaints'],
    security: bearer('query'),
    response: {
      200: { description: 'Updated', body: Complaint },
      400: errorResponse('A field other than status and note, or a bad value (SLUICE_ERR_VALIDATION)'),
      ...AUTH_ERRORS,
      404: NOT_FOUND,
      409: errorResponse('Reopening while another complaint of the fingerprint is open (SLUICE_ERR_CONFLICT)'),
    },
  },
  deliveries: {
    summary: 'The webhook deliveries of a complaint, oldest first',
    tags: ['complaints'],
    security: bearer('query'),
    queryDescriptions: LIST_QUERY,
    response: { ...pageOf(Delivery, 'A page of deliveries'), ...AUTH_ERRORS, 404: NOT_FOUND },
  },
} satisfies Record<string, RouteDoc>
