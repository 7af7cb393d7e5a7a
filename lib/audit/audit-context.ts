import type { FastifyRequest } from 'fastify'
import type { AuditContext } from './audit-store.ts'

/** The actor and request id of a request that passed `requireKey('admin' | 'query')`. */
export function auditContext(request: FastifyRequest): AuditContext {
  return {
    actor: request.keyId === null ? { kind: 'admin', key_id: null } : { kind: 'query', key_id: request.keyId },
    requestId: request.id,
  }
}
