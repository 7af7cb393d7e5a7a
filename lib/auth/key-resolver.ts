import type { PgPool } from '../postgres.ts'
import { createApiKeyStore } from './api-key-store.ts'
import { hashApiKey, type ResolvedKey } from './api-keys.ts'

export interface KeyResolver {
  (key: string): Promise<ResolvedKey | null>
  /** Drops every cached answer (after a revocation in this process, so it applies at once here). */
  forget(): void
}

const TOUCH_EVERY_MS = 60_000

/**
 * Looks keys up by digest, with a short in-process cache (hits and misses) so ingest does not
 * query Postgres per request.
 * TRICKY: `ttlMs` bounds how long another process keeps accepting a key revoked elsewhere; the
 * contract allows 5 s, the default is 2 s. `last_used_at` is written at most once a minute per key
 * and process (and the UPDATE itself skips keys stamped in the last minute by any process), never
 * awaited by the request.
 *
 * @example
 *   const resolveKey = createKeyResolver({ pg, logger })
 *   const key = await resolveKey(bearer) // null: unknown or revoked
 */
export function createKeyResolver(options: { pg: PgPool; ttlMs?: number; maxEntries?: number; onTouchError?: (err: unknown) => void }): KeyResolver {
  const ttlMs = options.ttlMs ?? 2_000
  const maxEntries = options.maxEntries ?? 10_000
  const store = createApiKeyStore(options.pg)
  const cache = new Map<string, { value: ResolvedKey | null; expires: number }>()
  const touched = new Map<string, number>()

  function touch(keyId: string): void {
    const now = Date.now()
    if ((touched.get(keyId) ?? 0) > now - TOUCH_EVERY_MS) return
    if (touched.size >= maxEntries) touched.clear()
    touched.set(keyId, now)
    store.touch(keyId).catch((err: unknown) => options.onTouchError?.(err))
  }

  async function resolveKey(key: string): Promise<ResolvedKey | null> {
    if (key.length > 200) return null
    const digest = hashApiKey(key)
    const cacheKey = digest.toString('base64')
    const hit = cache.get(cacheKey)
    let value: ResolvedKey | null
    if (hit && hit.expires > Date.now()) {
      value = hit.value
    } else {
      const row = await store.lookup(digest)
      value = row ? { keyId: row.id, projectId: row.project_id, kind: row.kind } : null
      if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!)
      cache.set(cacheKey, { value, expires: Date.now() + ttlMs })
    }
    if (value) touch(value.keyId)
    return value
  }

  return Object.assign(resolveKey, { forget: () => cache.clear() })
}
