import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { ValidationError } from '../../lib/errors.ts'
import { LOG_LEVELS } from '../../lib/event-types.ts'
import type { LogReader } from '../log-reader.ts'
import type { CursorCodec } from '../cursor-codec.ts'
import { cursorId, cursorTime, limitParam, nextLink, parseQuery, timeParam } from '../query-params.ts'
import { logsDocs } from '../../lib/http/route-schemas/index.ts'

const ALIASES: Record<string, (typeof LOG_LEVELS)[number]> = { warning: 'warn', critical: 'fatal' }
const level = z
  .string()
  .transform((s) => ALIASES[s.toLowerCase()] ?? s.toLowerCase())
  .pipe(z.enum(LOG_LEVELS))

const listQuery = z.object({
  level: z
    .string()
    .max(200)
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(level))
    .optional(),
  min_level: level.optional(),
  service: z.string().max(200).optional(),
  q: z.string().max(500).optional(),
  run_id: z.string().max(100).optional(),
  from: timeParam.optional(),
  to: timeParam.optional(),
  limit: limitParam,
  cursor: z.string().max(300).optional(),
})
const logCursor = z.tuple([cursorTime, cursorId])

const INTERVAL = /^(\d+)(s|m|h|d)$/
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const
const MAX_BUCKETS = 10_000
const statsQuery = z.object({
  interval: z
    .string()
    .default('1m')
    .transform((s, ctx) => {
      const m = INTERVAL.exec(s)
      const seconds = m ? Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS] : 0
      if (seconds < 1 || seconds > 31 * 86_400) {
        ctx.addIssue({ code: 'custom', message: 'must look like 30s, 1m, 5m, 1h or 1d' })
        return z.NEVER
      }
      return seconds
    }),
  from: timeParam.optional(),
  to: timeParam.optional(),
  service: z.string().max(200).optional(),
})

/** `GET /api/logs` and `GET /api/logs/stats` (query key). */
export const logsRoutes: FastifyPluginAsync<{ logs: LogReader; cursors: CursorCodec }> = async (app, { logs, cursors }) => {
  const auth = { onRequest: app.requireKey('query') }

  app.get('/api/logs', { ...auth, schema: { ...logsDocs.list, querystring: listQuery } }, async (request, reply) => {
    const q = parseQuery(listQuery, request.query)
    const page = await logs.list(request.projectId, {
      levels: q.level,
      minLevel: q.min_level,
      service: q.service,
      q: q.q,
      runId: q.run_id,
      from: q.from,
      to: q.to,
      before: cursors.decode(logCursor, q.cursor) ?? undefined,
      limit: q.limit,
    })
    const last = page.logs[page.logs.length - 1]
    if (page.hasMore && last) void reply.header('link', nextLink(request.url, cursors.encode([Date.parse(last.timestamp), last.id])))
    return page.logs
  })

  app.get('/api/logs/stats', { ...auth, schema: { ...logsDocs.stats, querystring: statsQuery } }, async (request) => {
    const q = parseQuery(statsQuery, request.query)
    const to = q.to ?? Date.now()
    const from = q.from ?? to - 86_400_000
    if (to <= from) throw new ValidationError('from: must be before to')
    if ((to - from) / 1000 / q.interval > MAX_BUCKETS) {
      throw new ValidationError(`interval: [from, to) would make more than ${MAX_BUCKETS} buckets; use a longer interval`)
    }
    return logs.stats(request.projectId, { intervalSeconds: q.interval, from, to, service: q.service })
  })
}
