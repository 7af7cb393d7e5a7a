import createError from '@fastify/error'

/**
 * Every error a user can meet. The code is stable (SDKs and dashboards switch on it), the message
 * is for people, the status fits. `docs/errors.md` lists each code; `errors.test.ts` keeps the two
 * in step. Errors a client should retry say so in `RETRYABLE_CODES`.
 */

// Request-level errors (the whole request fails).
export const InvalidJsonError = createError('SLUICE_ERR_INVALID_JSON', 'Body is not valid JSON: %s', 400)
export const InvalidBodyError = createError('SLUICE_ERR_INVALID_BODY', '%s', 400)
export const EmptyBatchError = createError('SLUICE_ERR_EMPTY_BATCH', 'The batch has no events', 400)
export const ForbiddenKeyError = createError(
  'SLUICE_ERR_FORBIDDEN_PROPERTY',
  'Body contains a forbidden property name (__proto__ or constructor.prototype)',
  400,
)
export const NoValidEventsError = createError('SLUICE_ERR_NO_VALID_EVENTS', 'No event in the batch is valid (%d rejected)', 400)
export const ValidationError = createError('SLUICE_ERR_VALIDATION', '%s', 400)
export const InvalidConditionError = createError('SLUICE_ERR_INVALID_CONDITION', '%s', 400)
export const ConflictError = createError('SLUICE_ERR_CONFLICT', '%s', 409)
export const InvalidCursorError = createError('SLUICE_ERR_INVALID_CURSOR', 'The cursor is not one this API issued', 400)
export const PayloadTooLargeError = createError('SLUICE_ERR_PAYLOAD_TOO_LARGE', 'Body exceeds %d bytes as sent', 413)
export const DecompressedTooLargeError = createError(
  'SLUICE_ERR_DECOMPRESSED_TOO_LARGE',
  'Body exceeds %d bytes once decompressed',
  413,
)
export const BatchTooLargeError = createError('SLUICE_ERR_BATCH_TOO_LARGE', 'Batch has %d events; the limit is %d', 413)
export const UnsupportedMediaTypeError = createError(
  'SLUICE_ERR_UNSUPPORTED_MEDIA_TYPE',
  'Content-Type %s is not supported; send application/json',
  415,
)
export const UnsupportedEncodingError = createError(
  'SLUICE_ERR_UNSUPPORTED_ENCODING',
  'Content-Encoding %s is not supported; send gzip or identity',
  415,
)
export const UnauthorizedError = createError('SLUICE_ERR_UNAUTHORIZED', '%s', 401)
export const ForbiddenError = createError('SLUICE_ERR_FORBIDDEN', 'This route needs the %s key', 403)
export const NotFoundError = createError('SLUICE_ERR_NOT_FOUND', '%s not found', 404)
export const RouteNotFoundError = createError('SLUICE_ERR_ROUTE_NOT_FOUND', 'Route %s %s not found', 404)
export const MethodNotAllowedError = createError('SLUICE_ERR_METHOD_NOT_ALLOWED', 'Method %s is not allowed here; allowed: %s', 405)
export const RateLimitedError = createError('SLUICE_ERR_RATE_LIMITED', 'Rate limit of %d events per second exceeded', 429)
export const BrokerUnavailableError = createError(
  'SLUICE_ERR_BROKER_UNAVAILABLE',
  'The event broker did not acknowledge the batch; send all of it again later (event ids make that safe)',
  503,
)
// Refused by Node's HTTP parser, before any route (answered by lib/http/client-error-handler.ts).
export const MalformedRequestError = createError('SLUICE_ERR_MALFORMED_REQUEST', 'The request is not valid HTTP/1.1: %s', 400)
export const RequestTimeoutError = createError('SLUICE_ERR_REQUEST_TIMEOUT', 'The request was not received in time', 408)
export const HeadersTooLargeError = createError('SLUICE_ERR_HEADERS_TOO_LARGE', 'The request headers exceed %d bytes', 431)
export const NotReadyError = createError('SLUICE_ERR_NOT_READY', 'A dependency is unavailable: %s', 503)
export const InternalError = createError('SLUICE_ERR_INTERNAL', 'Internal error (request %s)', 500)

// Per-event errors (reported in the `errors` array of a 207 or 400 from /ingest).
export const EVENT_ERROR_CODES = {
  invalidEvent: 'SLUICE_ERR_INVALID_EVENT',
  unknownType: 'SLUICE_ERR_UNKNOWN_EVENT_TYPE',
  eventTooLarge: 'SLUICE_ERR_EVENT_TOO_LARGE',
} as const

/** Codes a client should retry (with backoff, honouring Retry-After). */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  'SLUICE_ERR_RATE_LIMITED',
  'SLUICE_ERR_BROKER_UNAVAILABLE',
  'SLUICE_ERR_NOT_READY',
  'SLUICE_ERR_INTERNAL',
  'SLUICE_ERR_REQUEST_TIMEOUT',
])

export interface EventError {
  index: number
  id: string | null
  code: string
  message: string
}
