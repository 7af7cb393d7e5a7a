import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * The `x-sluice-signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.
 * The timestamp is inside the signed text, so a captured request cannot be replayed with a fresh
 * `t`; receivers reject signatures older than a tolerance.
 *
 *   const header = signWebhook(secret, body, Math.floor(Date.now() / 1000))
 *   verifyWebhookSignature(secret, body, header) // → { ok: true, timestamp }
 */
export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${hmacHex(secret, unixSeconds, body)}`
}

export type SignatureCheck =
  | { ok: true; timestamp: number }
  | { ok: false; reason: 'malformed' | 'expired' | 'mismatch' }

export interface VerifyOptions {
  /** How far `t` may be from `now`, either way (default 300 s). */
  toleranceSeconds?: number
  /** The current time in unix seconds (default: the clock). */
  now?: number
}

/**
 * Checks a signature header against the raw body as received (before any JSON parsing), in
 * constant time. Several `v1=` entries are accepted, so a sender may sign with an old and a new
 * secret while it is being rotated.
 */
export function verifyWebhookSignature(secret: string, body: string, header: string, options: VerifyOptions = {}): SignatureCheck {
  const tolerance = options.toleranceSeconds ?? 300
  const now = options.now ?? Math.floor(Date.now() / 1000)
  let timestamp: number | undefined
  const candidates: string[] = []
  for (const part of header.split(',')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    const key = part.slice(0, eq).trim()
    const value = part.slice(eq + 1).trim()
    if (key === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value)
    else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) candidates.push(value.toLowerCase())
  }
  if (timestamp === undefined || candidates.length === 0) return { ok: false, reason: 'malformed' }
  if (Math.abs(now - timestamp) > tolerance) return { ok: false, reason: 'expired' }

  const expected = Buffer.from(hmacHex(secret, timestamp, body), 'hex')
  // Compare against every candidate, without stopping early, so timing says nothing about which matched.
  let matched = false
  for (const candidate of candidates) {
    if (timingSafeEqual(expected, Buffer.from(candidate, 'hex'))) matched = true
  }
  return matched ? { ok: true, timestamp } : { ok: false, reason: 'mismatch' }
}

function hmacHex(secret: string, unixSeconds: number, body: string): string {
  return createHmac('sha256', secret).update(`${unixSeconds}.${body}`, 'utf8').digest('hex')
}
