import type { FastifyRequest } from 'fastify'
import type { FastifyCorsOptions } from '@fastify/cors'

/** The headers a browser may send to the public write routes. */
const PUBLIC_HEADERS = ['Authorization', 'Content-Type', 'Content-Encoding']

/**
 * Which CORS answer a request gets. `/ingest` and `POST /api/logs` are open to any origin (browser
 * SDKs send events; the key is the credential, never a cookie); every other route only to the
 * configured origins, and to none by default.
 *
 * @example
 *   await app.register(cors, { delegator: corsPolicy({ allowedOrigins: ['https://console.example'] }) })
 */
export function corsPolicy(options: { allowedOrigins: readonly string[] }) {
  const restricted: FastifyCorsOptions =
    options.allowedOrigins.length === 0
      ? { origin: false }
      : {
          origin: [...options.allowedOrigins],
          methods: ['GET', 'POST', 'PATCH', 'DELETE'],
          allowedHeaders: PUBLIC_HEADERS,
          exposedHeaders: ['Link', 'Retry-After', 'x-request-id'],
          credentials: false,
          maxAge: 600,
          strictPreflight: false,
        }
  const open: FastifyCorsOptions = {
    origin: '*',
    methods: ['POST'],
    allowedHeaders: PUBLIC_HEADERS,
    exposedHeaders: ['Retry-After', 'x-request-id'],
    credentials: false,
    maxAge: 600,
    // A bare OPTIONS gets the CORS answer too, never fastify-cors's text/plain 400.
    strictPreflight: false,
  }
  return function delegator(request: FastifyRequest, callback: (err: Error | null, options: FastifyCorsOptions) => void): void {
    callback(null, isPublicWrite(request) ? open : restricted)
  }
}

function isPublicWrite(request: FastifyRequest): boolean {
  const path = request.url.split('?')[0]
  // A preflight names the method it asks for; the real request is that method.
  const method = request.method === 'OPTIONS' ? String(request.headers['access-control-request-method'] ?? '').toUpperCase() : request.method
  if (path === '/ingest') return true
  return path === '/api/logs' && method === 'POST'
}
