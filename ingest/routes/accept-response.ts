import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AcceptResult } from '../batch-acceptor.ts'
import { parsedBodyBytes } from '../json-body-parser.ts'

/**
 * An upper bound of the body's decoded size, for the acceptor's per-event sizing shortcut: what
 * the body parser read (gzip inflated), else the Content-Length of an identity body.
 */
export function decodedBodyBytes(request: FastifyRequest): number {
  const parsed = parsedBodyBytes(request)
  if (parsed !== undefined) return parsed
  const encoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase()
  const sentBytes = Number(request.headers['content-length'])
  return (encoding === 'identity' || encoding === '') && Number.isFinite(sentBytes) ? sentBytes : Number.POSITIVE_INFINITY
}

/** 200 when every event was accepted, 207 with the rejected indexes otherwise. */
export function sendAcceptResult(reply: FastifyReply, result: AcceptResult) {
  if (result.errors.length === 0) return reply.status(200).send({ status: 'ok', processed: result.processed })
  return reply.status(207).send({ status: 'partial', processed: result.processed, errors: result.errors })
}
