import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { ForbiddenError, UnauthorizedError } from '../errors.ts'
import { isAdminToken, type KeyKind } from './api-keys.ts'
import type { KeyResolver } from './key-resolver.ts'

export type AccessKind = 'admin' | KeyKind

declare module 'fastify' {
  interface FastifyInstance {
    /** An onRequest hook that lets through only requests bearing a key of this kind: it runs before the body is read, so an unauthenticated client cannot make the server parse or inflate anything. */
    requireKey(kind: AccessKind): onRequestAsyncHookHandler
  }
  interface FastifyRequest {
    /** The project of the request's key; set by requireKey('ingest' | 'query'). */
    projectId: string
    /** The id of the request's key; null for the admin token (or before requireKey ran). */
    keyId: string | null
  }
}

export interface AuthPluginOptions {
  resolveKey: KeyResolver
  adminToken: string | undefined
}

/** Bearer-key auth: missing or unknown key is 401, a valid key of another kind is 403. */
export const authPlugin = fp<AuthPluginOptions>(
  async (app, options) => {
    app.decorateRequest('projectId', '')
    app.decorateRequest('keyId', null)
    app.decorate('requireKey', (kind: AccessKind) => {
      return async function checkKey(request: FastifyRequest, _reply: FastifyReply) {
        const header = request.headers.authorization
        const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
        if (!match) throw new UnauthorizedError('Missing Authorization: Bearer <key> header')
        const key = match[1]!
        if (isAdminToken(key, options.adminToken)) {
          if (kind === 'admin') return
          throw new ForbiddenError(kind)
        }
        const resolved = await options.resolveKey(key)
        if (!resolved) throw new UnauthorizedError('Unknown or revoked key')
        if (resolved.kind !== kind) throw new ForbiddenError(kind)
        request.projectId = resolved.projectId
        request.keyId = resolved.keyId
      }
    })
  },
  { name: 'sluice-auth' },
)
