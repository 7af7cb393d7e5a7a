import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { MAX_RESPONSE_BYTES, sendWebhook, type SendOptions, type WebhookMessage } from './send-webhook.ts'
import { fakeLookup, loopbackOnlyConnect, startReceiver, type Receiver } from './test-helpers.ts'
import { verifyWebhookSignature } from './webhook-signature.ts'

// A loopback HTTP receiver, no Postgres: every case of one attempt, redirects included.
const receivers: Receiver[] = []
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()))
})

async function receiver(handle: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const r = await startReceiver(handle)
  receivers.push(r)
  return r
}

function message(url: string): WebhookMessage {
  return { deliveryId: randomUUID(), url, secret: 'whsec_send', event: 'complaint.created', body: '{"event":"complaint.created","n":1}' }
}

const open: SendOptions = { timeoutMs: 2_000, allowPrivate: true, lookup: fakeLookup({}) }

describe('sendWebhook', () => {
  it('POSTs the exact body with the Sluice headers and a valid signature', async () => {
    const r = await receiver((_req, res) => res.writeHead(204).end())
    const m = message(r.url('/in?tenant=7'))
    expect(await sendWebhook(m, open)).toEqual({ kind: 'delivered', status: 204 })
    const [got] = r.received
    expect(got).toMatchObject({ method: 'POST', path: '/in?tenant=7', body: m.body })
    expect(got!.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'Sluice-Webhooks/1',
      'x-sluice-event': 'complaint.created',
      'x-sluice-delivery': m.deliveryId,
      'content-length': String(Buffer.byteLength(m.body)),
    })
    expect(verifyWebhookSignature(m.secret, got!.body, String(got!.headers['x-sluice-signature']))).toMatchObject({ ok: true })
  })

  it('connects to the vetted address only, with the host name in the Host header', async () => {
    const r = await receiver((_req, res) => res.end('ok'))
    const connected: string[] = []
    const asked: string[] = []
    const result = await sendWebhook(message(`http://hooks.example.test:${r.port}/h`), {
      ...open,
      lookup: fakeLookup({ 'hooks.example.test': ['127.0.0.1'] }, asked),
      connect: loopbackOnlyConnect(connected),
    })
    expect(result).toEqual({ kind: 'delivered', status: 200 })
    expect(r.received[0]!.headers.host).toBe(`hooks.example.test:${r.port}`)
    expect(asked).toEqual(['hooks.example.test'])
    expect(connected).toEqual(['127.0.0.1'])
  })

  it.each([
    [500, 'retry'],
    [502, 'retry'],
    [408, 'retry'],
    [429, 'retry'],
    [400, 'failed'],
    [401, 'failed'],
    [404, 'failed'],
    [410, 'failed'],
    [303, 'failed'],
    [300, 'failed'],
  ] as const)('classifies HTTP %i as %s', async (status, kind) => {
    const r = await receiver((_req, res) => res.writeHead(status, { location: '/elsewhere' }).end('nope'))
    const result = await sendWebhook(message(r.url()), open)
    expect(result).toMatchObject({ kind, status })
    expect(r.received).toHaveLength(1)
  })

  it('keeps a short, flattened snippet of the error body', async () => {
    const r = await receiver((_req, res) => res.writeHead(400).end('{"error":\n  "bad signature"}' + 'x'.repeat(1_000)))
    const result = await sendWebhook(message(r.url()), open)
    expect(result.kind === 'failed' && result.error).toMatch(/^HTTP 400: \{"error": "bad signature"\}x+$/)
    expect(result.kind === 'failed' && result.error.length).toBe('HTTP 400: '.length + 200)
  })

  it('reads Retry-After on 429 and 503 only', async () => {
    const r = await receiver((_req, res, i) => res.writeHead([429, 503, 500][i]!, { 'retry-after': '7' }).end())
    expect(await sendWebhook(message(r.url()), open)).toMatchObject({ kind: 'retry', status: 429, retryAfterMs: 7_000 })
    expect(await sendWebhook(message(r.url()), open)).toMatchObject({ kind: 'retry', status: 503, retryAfterMs: 7_000 })
    const plain = await sendWebhook(message(r.url()), open)
    expect(plain).toMatchObject({ kind: 'retry', status: 500 })
    expect(plain).not.toHaveProperty('retryAfterMs')
  })

  it.each([301, 302, 307, 308])('follows %i with the same signed POST and body', async (status) => {
    const r = await receiver((req, res) =>
      req.path === '/old' ? res.writeHead(status, { location: '/new' }).end() : res.writeHead(202).end(),
    )
    const m = message(r.url('/old'))
    expect(await sendWebhook(m, open)).toEqual({ kind: 'delivered', status: 202 })
    expect(r.received.map((x) => [x.method, x.path, x.body])).toEqual([
      ['POST', '/old', m.body],
      ['POST', '/new', m.body],
    ])
    expect(r.received[1]!.headers['x-sluice-signature']).toBe(r.received[0]!.headers['x-sluice-signature'])
    expect(r.received[1]!.headers['x-sluice-delivery']).toBe(m.deliveryId)
  })

  it('gives up after 3 redirects, and on a redirect without Location', async () => {
    const r = await receiver((req, res) => (req.path === '/bare' ? res.writeHead(307).end() : res.writeHead(302, { location: '/loop' }).end()))
    expect(await sendWebhook(message(r.url('/loop')), open)).toEqual({ kind: 'failed', status: 302, error: 'more than 3 redirects' })
    expect(r.received).toHaveLength(4)
    expect(await sendWebhook(message(r.url('/bare')), open)).toEqual({ kind: 'failed', status: 307, error: 'HTTP 307 without a Location header' })
  })

  it('stops reading a huge response at the cap', async () => {
    const r = await receiver((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      // Never ends on its own: only the cap can finish the read in time.
      res.write(Buffer.alloc(MAX_RESPONSE_BYTES * 4, 'a'))
    })
    const started = Date.now()
    expect(await sendWebhook(message(r.url()), { ...open, timeoutMs: 5_000 })).toEqual({ kind: 'delivered', status: 200 })
    expect(Date.now() - started).toBeLessThan(2_000)
  })

  it('times out a receiver that never answers, the whole attempt included', async () => {
    const r = await receiver(() => {})
    const started = Date.now()
    expect(await sendWebhook(message(r.url()), { ...open, timeoutMs: 150 })).toEqual({ kind: 'retry', error: 'timed out after 150 ms' })
    expect(Date.now() - started).toBeLessThan(1_000)
  })

  it('times out a body that trickles forever after the headers', async () => {
    const r = await receiver((_req, res) => {
      res.writeHead(200)
      res.write('a')
    })
    expect(await sendWebhook(message(r.url()), { ...open, timeoutMs: 150 })).toEqual({ kind: 'retry', error: 'timed out after 150 ms' })
  })

  it('retries a refused connection and an unknown name', async () => {
    const r = await receiver(() => {})
    const port = r.port
    await r.close()
    receivers.pop()
    const refused = await sendWebhook(message(`http://127.0.0.1:${port}/`), open)
    expect(refused).toMatchObject({ kind: 'retry' })
    expect(refused.kind === 'retry' && refused.error).toContain('ECONNREFUSED')
    expect(await sendWebhook(message('http://gone.example.test/'), open)).toEqual({
      kind: 'retry',
      error: 'DNS lookup of gone.example.test failed (ENOTFOUND)',
    })
  })

  describe('with the SSRF guard on', () => {
    const guarded = (connected: string[], table: Record<string, string[]> = {}): SendOptions => ({
      timeoutMs: 2_000,
      allowPrivate: false,
      lookup: fakeLookup(table),
      connect: loopbackOnlyConnect(connected),
    })

    it('refuses loopback and private destinations before connecting', async () => {
      const r = await receiver((_req, res) => res.end())
      const connected: string[] = []
      for (const url of [r.url(), `http://[::ffff:127.0.0.1]:${r.port}/`, 'http://10.1.2.3/hook', `http://hooks.example.test:${r.port}/`]) {
        const result = await sendWebhook(message(url), guarded(connected, { 'hooks.example.test': ['127.0.0.1'] }))
        expect(result.kind, url).toBe('refused')
      }
      expect(connected).toEqual([])
      expect(r.connections).toBe(0)
    })

    it.each([
      ['http://169.254.169.254/latest/meta-data/', '169.254.169.254, which is link-local (cloud metadata)'],
      ['http://[::ffff:a9fe:a9fe]/latest/meta-data/', 'as IPv4-mapped 169.254.169.254'],
      ['http://internal.example.test/admin', 'internal.example.test resolves to 10.0.0.7, which is private'],
    ])('refuses a redirect to %s without connecting to it', async (target, why) => {
      const r = await receiver((_req, res) => res.writeHead(302, { location: target }).end())
      const connected: string[] = []
      const result = await sendWebhook(message(`http://public.example.test:${r.port}/hook`), {
        ...guarded(connected, { 'public.example.test': ['127.0.0.1'], 'internal.example.test': ['10.0.0.7'] }),
        // Stands the loopback receiver in for a public host; the redirect target is judged as usual.
        allowAddressesForTests: ['127.0.0.1'],
      })
      expect(result.kind).toBe('refused')
      expect(result.kind === 'refused' && result.error).toContain(`redirect refused: `)
      expect(result.kind === 'refused' && result.error).toContain(why)
      expect(connected).toEqual(['127.0.0.1'])
      expect(r.received).toHaveLength(1)
    })
  })
})
