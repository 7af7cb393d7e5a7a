import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { signWebhook, verifyWebhookSignature } from './webhook-signature.ts'

const secret = 'whsec_0123456789'
const body = '{"event":"complaint.created","complaint":{"id":"c1","title":"Ünïcode ✓"}}'
const t = 1_750_000_000

describe('webhook signature', () => {
  it('is t=<t>,v1=<hex HMAC-SHA256 of "<t>.<body>">', () => {
    const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')
    expect(signWebhook(secret, body, t)).toBe(`t=${t},v1=${expected}`)
  })

  it('verifies what it signed', () => {
    expect(verifyWebhookSignature(secret, body, signWebhook(secret, body, t), { now: t + 10 })).toEqual({ ok: true, timestamp: t })
  })

  it('refuses a tampered body, timestamp, signature or secret', () => {
    const header = signWebhook(secret, body, t)
    const opts = { now: t }
    expect(verifyWebhookSignature(secret, body.replace('c1', 'c2'), header, opts)).toEqual({ ok: false, reason: 'mismatch' })
    expect(verifyWebhookSignature(secret, body, header.replace(`t=${t}`, `t=${t + 1}`), opts)).toEqual({ ok: false, reason: 'mismatch' })
    const flipped = header.slice(0, -1) + (header.endsWith('0') ? '1' : '0')
    expect(verifyWebhookSignature(secret, body, flipped, opts)).toEqual({ ok: false, reason: 'mismatch' })
    expect(verifyWebhookSignature('whsec_other', body, header, opts)).toEqual({ ok: false, reason: 'mismatch' })
  })

  it('refuses timestamps outside the tolerance, either way', () => {
    const header = signWebhook(secret, body, t)
    expect(verifyWebhookSignature(secret, body, header, { now: t + 301 })).toEqual({ ok: false, reason: 'expired' })
    expect(verifyWebhookSignature(secret, body, header, { now: t - 301 })).toEqual({ ok: false, reason: 'expired' })
    expect(verifyWebhookSignature(secret, body, header, { now: t + 300 })).toEqual({ ok: true, timestamp: t })
    expect(verifyWebhookSignature(secret, body, header, { now: t + 60, toleranceSeconds: 30 })).toEqual({ ok: false, reason: 'expired' })
  })

  it('calls malformed headers malformed', () => {
    for (const header of ['', 'garbage', `t=${t}`, 'v1=' + 'a'.repeat(64), `t=abc,v1=${'a'.repeat(64)}`, `t=${t},v1=short`]) {
      expect(verifyWebhookSignature(secret, body, header, { now: t })).toEqual({ ok: false, reason: 'malformed' })
    }
  })

  it('accepts any of several v1 entries (secret rotation)', () => {
    const fresh = signWebhook(secret, body, t)
    const old = signWebhook('whsec_old', body, t)
    const header = `${old},${fresh.split(',')[1]}`
    expect(verifyWebhookSignature(secret, body, header, { now: t })).toEqual({ ok: true, timestamp: t })
  })
})
