import type { FastifyPluginAsync } from 'fastify'
import { InvalidBodyError } from '../../lib/errors.ts'
import type { BatchAcceptor } from '../batch-acceptor.ts'
import { bodyMayHoldUnstorableText, decodedBodyBytes, sendAcceptResult } from './accept-response.ts'
import { ingestDocs } from '../../lib/http/route-schemas/index.ts'

/** `POST /ingest`: the SDKs' batch endpoint (ingest key). */
export const ingestRoute: FastifyPluginAsync<{ accept: BatchAcceptor }> = async (app, { accept }) => {
  app.post('/ingest', { onRequest: app.requireKey('ingest'), schema: ingestDocs.ingest }, async (request, reply) => {
    const body = request.body
    if (typeof body !== 'object' || body === null || Array.isArray(body) || !Array.isArray((body as { events?: unknown }).events)) {
      throw new InvalidBodyError('Body must be an object with an "events" array')
    }
    const result = await accept((body as { events: unknown[] }).events, {
      projectId: request.projectId,
      requestId: request.id,
      bodyBytes: decodedBodyBytes(request),
      textMayBeUnstorable: bodyMayHoldUnstorableText(request),
    })
    return sendAcceptResult(reply, result)
  })
}
