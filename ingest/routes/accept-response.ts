import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AcceptResult } from '../batch-acceptor.ts'

/**
 * An upper bound of the body's decoded size, for the acceptor's per-event sizing shortcut. Only
 * the Content-Length of an identity body says it: gzip inflates, and a chunked body has none.
 */
export function decodedBodyBytes(request: FastifyRequest): number {
  const encoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase()
  const sentBytes = Number(request.headers['content-length'])
  return (encoding === 'identity' || encoding === '') && Number.isFinite(sentBytes) ? sentBytes : Number.POSITIVE_INFINITY
}

/** 200 when every event was accepted, 207 with the rejected indexes otherwise. */
export function sendAcceptResult(reply: FastifyReply, result: AcceptResult) {
  if (result.errors.length === 0) return reply.status(200).send({ status: 'ok', processed: result.processed })
  return reply.status(207).send({ status: 'partial', processed: result.processed, errors: result.errors })
}
