import type { FastifyPluginAsync } from 'fastify'
import { InvalidBodyError } from '../../lib/errors.ts'
import type { BatchAcceptor } from '../batch-acceptor.ts'

/** `POST /ingest`: the SDKs' batch endpoint (ingest key). */
export const ingestRoute: FastifyPluginAsync<{ accept: BatchAcceptor }> = async (app, { accept }) => {
  app.post('/ingest', { preHandler: app.requireKey('ingest') }, async (request, reply) => {
    const body = request.body
    if (typeof body !== 'object' || body === null || Array.isArray(body) || !Array.isArray((body as { events?: unknown }).events)) {
      throw new InvalidBodyError('Body must be an object with an "events" array')
    }
    // The acceptor skips sizing events when the body is no larger than one event may be. Only the
    // Content-Length of an identity body says that: gzip inflates, and a chunked body has none.
    const encoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase()
    const sentBytes = Number(request.headers['content-length'])
    const result = await accept((body as { events: unknown[] }).events, {
      projectId: request.projectId,
      requestId: request.id,
      bodyBytes: (encoding === 'identity' || encoding === '') && Number.isFinite(sentBytes) ? sentBytes : Number.POSITIVE_INFINITY,
    })
    if (result.errors.length === 0) return reply.status(200).send({ status: 'ok', processed: result.processed })
    return reply.status(207).send({ status: 'partial', processed: result.processed, errors: result.errors })
  })
}
