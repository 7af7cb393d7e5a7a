import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { createCursorCodec, cursorKey } from '../../query-api/cursor-codec.ts'
import { cursorId, cursorIsoTime, limitParam, nextLink, parseBody, parseQuery } from '../../query-api/query-params.ts'
import { auditContext } from '../audit/audit-context.ts'
import { writeAudit } from '../audit/audit-store.ts'
import { createDeadLetterStore } from '../dead-letters/dead-letter-store.ts'
import { BrokerUnavailableError, NotFoundError } from '../errors.ts'
import { withTransaction } from '../postgres.ts'
import type { Services } from '../services.ts'
import { opsDocs } from './route-schemas/index.ts'

/** The header a replayed message carries: the id of the dead letter it came from. */
export const REPLAY_OF_HEADER = 'x-sluice-replay-of'

const listQuery = z.object({ limit: limitParam, cursor: z.string().max(400).optional() })
const listCursor = z.tuple([cursorIsoTime, cursorId])
const replayBody = z.union([z.object({ ids: z.array(z.guid()).min(1).max(1000) }).strict(), z.object({ all: z.literal(true) }).strict()])

/**
 * `GET /api/ops/dead-letters` (newest first) and `POST /api/ops/dead-letters/replay` (admin token):
 * the original messages go back onto the events topic, same key and headers plus
 * `x-sluice-replay-of`; processors take a replayed event as a resend, so what was counted stays
 * counted once, and the processor that failed on it tries again.
 */
export const deadLetterRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  const store = createDeadLetterStore(services.pg)
  const cursors = createCursorCodec(cursorKey(services.config.adminToken))
  const auth = { onRequest: app.requireKey('admin') }

  app.get('/api/ops/dead-letters', { ...auth, schema: { ...opsDocs.deadLetters, querystring: listQuery } }, async (request, reply) => {
    const q = parseQuery(listQuery, request.query)
    const rows = await store.list({ limit: q.limit + 1, after: cursors.decode(listCursor, q.cursor) })
    const page = rows.slice(0, q.limit)
    const last = page[page.length - 1]
    if (rows.length > q.limit && last) void reply.header('link', nextLink(request.url, cursors.encode([last.dead_lettered_at, last.id])))
    return page
  })

  app.post('/api/ops/dead-letters/replay', { ...auth, schema: { ...opsDocs.replay, body: replayBody } }, async (request) => {
    const body = parseBody(replayBody, request.body)
    const wanted = 'ids' in body ? [...new Set(body.ids)] : 'all'
    const replayed = await withTransaction(services.pg, async (client) => {
      const { found, messages } = await store.lockForReplay(client, wanted)
      if (wanted !== 'all') {
        const missing = wanted.filter((id) => !found.includes(id))
        if (missing.length > 0) throw new NotFoundError(`dead letter ${missing[0]}`)
      }
      if (messages.length === 0) return 0
      try {
        await services.producer.send(
          services.config.kafka.eventsTopic,
          messages.map((m) => ({ key: m.key?.toString('utf8') ?? m.id, value: m.value, headers: { ...m.headers, [REPLAY_OF_HEADER]: m.id } })),
        )
      } catch (err) {
        request.log.warn({ err }, 'replay produce failed')
        throw Object.assign(new BrokerUnavailableError(), { retryAfterSeconds: 5 })
      }
      await store.markReplayed(client, messages.map((m) => m.id))
      await writeAudit(client, {
        ...auditContext(request),
        action: 'dead_letter.replayed',
        target: { type: 'dead_letter', id: wanted === 'all' ? 'all' : (messages.length === 1 ? messages[0]!.id : 'many') },
        projectId: null,
        changes: { replayed: messages.length, ids: messages.map((m) => m.id) },
      })
      return messages.length
    })
    return { replayed }
  })
}
