import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

export type KeyKind = 'ingest' | 'query'

export interface ResolvedKey {
  keyId: string
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
