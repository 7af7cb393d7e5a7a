import { z } from 'zod'
import { AUTH_ERRORS, bearer, component, errorResponse, int, isoTime, LIST_QUERY, pageOf, timeBound, type RouteDoc } from './route-doc.ts'

export const Log = component(
  'Log',
  z
    .object({
      id: z.string(),
      timestamp: isoTime,
      level: z.enum(['debug', 'info', 'warn', 'error', 'fatal']),
      service: z.string().nullable(),
      message: z.string(),
      attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
      run_id: z.string().nullable(),
      received_at: isoTime,
    })
    .meta({
      examples: [
        {
          id: 'bf6c5b8d-7a9c-4dae-9f4a-5b6c7d8e9fa0',
          timestamp: '2026-11-22T01:02:03.456Z',
          level: 'error',
          service: 'checkout',
          message: 'payment declined',
          attributes: { region: 'eu', retry: false },
          run_id: null,
          received_at: '2026-11-22T01:02:03.460Z',
        },
      ],
    }),
)

export const LogBucket = component(
  'LogBucket',
  z.object({ ts: isoTime.meta({ description: 'Start of the interval' }), level: z.string(), count: int }).meta({
    examples: [{ ts: '2026-11-22T01:02:00.000Z', level: 'error', count: 3 }],
  }),
)

export const logsDocs = {
  list: {
    summary: 'Logs, newest first',
    description: '`level` is a comma list, `min_level` a floor, `q` a case-insensitive substring of the message.',
    tags: ['logs'],
    security: bearer('query'),
    queryDescriptions: {
      level: 'A comma list of levels (warning and critical are read as warn and fatal)',
      min_level: 'This level and those above it (debug < info < warn < error < fatal)',
      service: 'Only logs of this service',
      q: 'A case-insensitive substring of the message',
      run_id: 'Only logs of this run',
      from: timeBound('timestamp ≥ from'),
      to: timeBound('timestamp < to'),
      ...LIST_QUERY,
    },
    response: { ...pageOf(Log, 'A page of logs'), ...AUTH_ERRORS },
  },
  stats: {
    summary: 'Log counts per interval and level',
    description: '`from` defaults to 24 hours before `to`, `to` to now; at most 10,000 buckets.',
    tags: ['logs'],
    security: bearer('query'),
    queryDescriptions: {
      interval: 'The bucket width: a number and s, m, h or d (30s, 1m, 5m, 1h, 1d), at most 31 days',
      from: timeBound('Default: 24 hours before to'),
      to: timeBound('Default: now'),
      service: 'Only logs of this service',
    },
    response: {
      200: { description: 'Buckets, oldest first', body: z.array(LogBucket) },
      400: errorResponse('A bad parameter, or too many buckets (SLUICE_ERR_VALIDATION)'),
      ...AUTH_ERRORS,
    },
  },
} satisfies Record<string, RouteDoc>
