import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { PgPool } from '../postgres.ts'

export type KeyKind = 'ingest' | 'query'

export interface ResolvedKey {
  projectId: string
  kind: KeyKind
}

/** A new key: kind prefix plus 32 random bytes. Only its SHA-256 digest is stored. */
export function generateApiKey(kind: KeyKind): string {
  return `sl_${kind}_${randomBytes(32).toString('base64url')}`
}

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest()
}

export function isAdminToken(given: string, adminToken: string | undefined): boolean {
  if (!adminToken) return false
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(adminToken).digest()
  return timingSafeEqual(a, b)
}

/**
 * Looks keys up by digest, with a short in-process cache (hits and misses) so ingest does not
 * query Postgres per request. A revoked key stops working within `ttlMs`.
 */
export function createKeyResolver(options: { pg: PgPool; ttlMs?: number; maxEntries?: number }) {
  const ttlMs = options.ttlMs ?? 10_000
  const maxEntries = options.maxEntries ?? 10_000
  const cache = new Map<string, { value: ResolvedKey | null; expires: number }>()
  return async function resolveKey(key: string): Promise<ResolvedKey | null> {
    if (key.length > 200) return null
    const digest = hashApiKey(key)
    const cacheKey = digest.toString('base64')
    const hit = cache.get(cacheKey)
    if (hit && hit.expires > Date.now()) return hit.value
    const { rows } = await options.pg.query<{ project_id: string; kind: KeyKind }>(
      'SELECT project_id, kind FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL',
      [digest],
    )
    const row = rows[0]
    const value = row ? { projectId: row.project_id, kind: row.kind } : null
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!)
    cache.set(cacheKey, { value, expires: Date.now() + ttlMs })
    return value
  }
}

export type KeyResolver = ReturnType<typeof createKeyResolver>
