import { z } from 'zod'
import { AUTH_ERRORS, bearer, component, errorResponse, int, isoTime, pageOf, type RouteDoc } from './route-doc.ts'

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
    response: { ...pageOf(Log, 'A page of logs'), ...AUTH_ERRORS },
  },
  stats: {
    summary: 'Log counts per interval and level',
    description: '`from` defaults to 24 hours before `to`, `to` to now; at most 10,000 buckets.',
    tags: ['logs'],
    security: bearer('query'),
    response: {
      200: { description: 'Buckets, oldest first', body: z.array(LogBucket) },
      400: errorResponse('A bad parameter, or too many buckets (SLUICE_ERR_VALIDATION)'),
      ...AUTH_ERRORS,
    },
  },
} satisfies Record<string, RouteDoc>
