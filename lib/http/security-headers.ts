import type { FastifyHelmetOptions } from '@fastify/helmet'

/**
 * Helmet's options: its headers go on every response (404s and errors included, as it runs in
 * onRequest): `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, and a
 * Content-Security-Policy that allows nothing. An HTML page sets its own policy (see
 * docs-routes.ts), still without inline scripts.
 */
export const securityHeaders: FastifyHelmetOptions = {
  global: true,
  referrerPolicy: { policy: 'no-referrer' },
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
  },
}
