import { randomUUID } from 'node:crypto'
import cors from '@fastify/cors'
import helmet from '@fastify/helmet'
import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify'
import {
  InternalError,
  InvalidBodyError,
  MethodNotAllowedError,
  PayloadTooLargeError,
  RouteNotFoundError,
  UnsupportedMediaTypeError,
  InvalidJsonError,
} from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import { createClientErrorHandler } from './client-error-handler.ts'
import { corsPolicy } from './cors-policy.ts'
import { errorBody } from './error-body.ts'
import { securityHeaders } from './security-headers.ts'
import { createRouteMethods } from './route-methods.ts'
import { serializerCompiler, validatorCompiler } from './zod-route-schema.ts'

declare module 'fastify' {
  interface FastifyInstance {
    sluiceRoutes: readonly string[]
    /** The `schema` of each of `sluiceRoutes`, by `METHOD /path`. */
    sluiceRouteSchemas: ReadonlyMap<string, unknown>
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * A fastify instance with what every Sluice HTTP role shares: request ids (taken from
 * `x-request-id` when sane, echoed back), the contract's error shape with a code on every error
 * (also for what Node's HTTP parser refuses), security headers, CORS, and RED metrics per route.
 */
export function createHttpApp(options: { logger: Logger; metrics: Metrics; bodyLimit: number; corsOrigins?: readonly string[] }): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: options.bodyLimit,
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
    },
    // One line per request comes from the onResponse hook below, with the route and status.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    clientErrorHandler: createClientErrorHandler(options.logger),
  })

  // Route schemas are zod schemas that document the route; the handlers validate with them (see
  // zod-route-schema.ts), so fastify's own validation and serialization leave them alone.
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)

  // Every METHOD /path this app serves, for the OpenAPI drift test and for startup logs.
  const routes: string[] = []
  const schemas = new Map<string, unknown>()
  app.decorate('sluiceRoutes', routes)
  app.decorate('sluiceRouteSchemas', schemas)
  const methods = createRouteMethods()
  app.addHook('onRoute', (route) => {
    // OPTIONS is @fastify/cors's catch-all preflight route, and /docs/... Swagger UI's assets
    // (its page, /docs, is listed): not part of the API.
    const listed = !route.url.startsWith('/docs/')
    for (const method of [route.method].flat()) {
      if (!listed || method === 'HEAD' || method === 'OPTIONS') continue
      routes.push(`${method} ${route.url}`)
      schemas.set(`${method} ${route.url}`, route.schema)
    }
    methods.add(route.method, route.url)
  })

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })
  // TRICKY: helmet and cors run in onRequest, after the request id above and before any route's
  // auth hook, so a preflight (which carries no key) is answered and a 401 still has the headers.
  void app.register(helmet, securityHeaders)
  void app.register(cors, { delegator: corsPolicy({ allowedOrigins: options.corsOrigins ?? [] }) })

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    options.metrics.httpRequestDuration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    )
    const level = reply.statusCode >= 500 ? 'error' : 'info'
    request.log[level]({ method: request.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request')
  })

  // A path some route serves, with another method: 405 with Allow (contract, HTTP hygiene).
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!
    const allowed = methods.allowed(path)
    if (allowed.length > 0) {
      const err = new MethodNotAllowedError(request.method.slice(0, 20), allowed.join(', '))
      void reply.status(405).header('allow', allowed.join(', ')).send(errorBody(err, 405))
      return
    }
    const err = new RouteNotFoundError(request.method.slice(0, 20), path.slice(0, 200))
    void reply.status(404).send(errorBody(err, 404))
  })

  app.setErrorHandler((error: FastifyError & { retryAfterSeconds?: number; errors?: unknown }, request, reply) => {
    const mapped: FastifyError & { retryAfterSeconds?: number; errors?: unknown } = mapFrameworkError(error, options.bodyLimit)
    const status = mapped.statusCode ?? 500
    if (status >= 500 && !mapped.code?.startsWith('SLUICE_ERR_')) {
      request.log.error({ err: error }, 'unhandled error')
      const internal = new InternalError(request.id)
      return reply.status(500).send(errorBody(internal, 500))
    }
    if (mapped.retryAfterSeconds !== undefined) void reply.header('retry-after', String(mapped.retryAfterSeconds))
    if (status >= 500) request.log.warn({ code: mapped.code, msg: mapped.message }, 'dependency error')
    const body = errorBody(mapped, status)
    return reply.status(status).send(mapped.errors === undefined ? body : { ...body, errors: mapped.errors })
  })

  return app as unknown as FastifyInstance
}

/** Fastify's own errors, re-issued with Sluice codes so clients see one vocabulary. */
function mapFrameworkError(error: FastifyError & { retryAfterSeconds?: number; errors?: unknown }, bodyLimit: number) {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PayloadTooLargeError(bodyLimit)
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new UnsupportedMediaTypeError(error.message.replace(/^Unsupported Media Type:?\s*/i, '') || 'unknown')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new InvalidJsonError('empty or malformed body')
    default:
      // Any other framework 400 (bad Content-Length, malformed URL...) still gets a Sluice code.
      if (error.code?.startsWith('FST_') && error.statusCode === 400) return new InvalidBodyError(error.message)
      return error
  }
}
