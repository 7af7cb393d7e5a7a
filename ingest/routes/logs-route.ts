import type { FastifyPluginAsync } from 'fastify'
import { InvalidBodyError } from '../../lib/errors.ts'
import type { BatchAcceptor } from '../batch-acceptor.ts'
import { bodyMayHoldUnstorableText, decodedBodyBytes, sendAcceptResult } from './accept-response.ts'
import { ingestDocs } from '../../lib/http/route-schemas/index.ts'

/**
 * `POST /api/logs` (ingest key, Reflex compatible): one log object or an array of them, each the
 * `log` event's data with an optional `id`. Same statuses and body as `/ingest`; error indexes
 * refer to the positions in the array sent.
 */
export const logsRoute: FastifyPluginAsync<{ accept: BatchAcceptor }> = async (app, { accept }) => {
  app.post('/api/logs', { onRequest: app.requireKey('ingest'), schema: ingestDocs.logs }, async (request, reply) => {
    const body = request.body
    if (typeof body !== 'object' || body === null) throw new InvalidBodyError('Body must be a log object or an array of them')
    const logs: unknown[] = Array.isArray(body) ? body : [body]
    const events = logs.map((log) => {
      if (typeof log !== 'object' || log === null || Array.isArray(log)) return log
      const { id, ...data } = log as Record<string, unknown>
      return { ...(id === undefined ? {} : { id }), type: 'log', data }
    })
    const result = await accept(events, {
      projectId: request.projectId,
      requestId: request.id,
      bodyBytes: decodedBodyBytes(request),
      textMayBeUnstorable: bodyMayHoldUnstorableText(request),
    })
    return sendAcceptResult(reply, result)
  })
}
