import { randomUUID } from 'node:crypto'
import { maxHeaderSize } from 'node:http'
import type { Socket } from 'node:net'
import { HeadersTooLargeError, MalformedRequestError, RequestTimeoutError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { errorBody } from './error-body.ts'

/** The headers every Sluice response carries (see security-headers.ts), for answers no route gives. */
export const BASE_SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
} as const

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refused (431 headers too large, 400
 * malformed, 408 timeout) is answered in the contract's error shape with a request id, then the
 * connection is closed. No hook or route runs for these, so the headers are written here.
 */
export function createClientErrorHandler(logger: Logger) {
  return function clientErrorHandler(err: NodeJS.ErrnoException & { rawPacket?: unknown }, socket: Socket): void {
    // Nothing to answer on a connection the client already dropped.
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable) {
      socket.destroy()
      return
    }
    const { status, error } =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? { status: 431, error: new HeadersTooLargeError(maxHeaderSize) }
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? { status: 408, error: new RequestTimeoutError() }
          : { status: 400, error: new MalformedRequestError(parserReason(err)) }
    const requestId = randomUUID()
    logger.info({ reqId: requestId, code: error.code, parser: err.code, status }, 'client error')
    const body = JSON.stringify(errorBody(error, status))
    const headers = {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'cache-control': 'no-store',
      connection: 'close',
      'x-request-id': requestId,
      ...BASE_SECURITY_HEADERS,
    }
    const head = [`HTTP/1.1 ${status} ${errorBody(error, status).error}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)].join('\r\n')
    socket.end(`${head}\r\n\r\n${body}`)
  }
}

// Node's reason ("Invalid header value char"), without echoing any of the client's bytes.
function parserReason(err: NodeJS.ErrnoException & { reason?: string }): string {
  const reason = typeof err.reason === 'string' ? err.reason : err.code ?? 'parse error'
  return reason.replace(/[^\w .,:-]/g, '').slice(0, 100)
}
