import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AcceptResult } from '../batch-acceptor.ts'
import { parsedBody } from '../json-body-parser.ts'

/**
 * An upper bound of the body's decoded size, for the acceptor's per-event sizing shortcut: what
 * the body parser read (gzip inflated), else the Content-Length of an identity body.
 */
export function decodedBodyBytes(request: FastifyRequest): number {
  const parsed = parsedBody(request)
  if (parsed !== undefined) return parsed.bytes
  const encoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase()
  const sentBytes = Number(request.headers['content-length'])
  return (encoding === 'identity' || encoding === '') && Number.isFinite(sentBytes) ? sentBytes : Number.POSITIVE_INFINITY
}

/** Whether a string of the parsed body may hold a NUL or a lone surrogate (true when unknown). */
export function bodyMayHoldUnstorableText(request: FastifyRequest): boolean {
  return parsedBody(request)?.mayHoldUnstorableText ?? true
}

/** 200 when every event was accepted, 207 with the rejected indexes otherwise. */
export function sendAcceptResult(reply: FastifyReply, result: AcceptResult) {
  if (result.errors.length === 0) return reply.status(200).send({ status: 'ok', processed: result.processed })
  return reply.status(207).send({ status: 'partial', processed: result.processed, errors: result.errors })
}
