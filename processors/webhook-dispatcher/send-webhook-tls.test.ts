import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pinnedConnector, sendWebhook, type SendOptions } from './send-webhook.ts'
import { fakeLookup } from './test-helpers.ts'

// A self-signed certificate for hooks.example.test, made here so none is kept in the repository.
function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

describe.runIf(hasOpenssl())('sendWebhook over https (pinned address, name-checked certificate)', () => {
  let dir: string
  let cert: Buffer
  let server: https.Server
  let port: number
  const seen: Array<{ path: string; host: string | undefined; sni: string | false | null }> = []

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-webhook-tls-'))
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      '-subj', '/CN=hooks.example.test', '-addext', 'subjectAltName=DNS:hooks.example.test',
    ], { stdio: 'ignore' })
    cert = readFileSync(join(dir, 'cert.pem'))
    server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) => {
      req.resume()
      req.on('end', () => {
        seen.push({ path: req.url ?? '', host: req.headers.host, sni: (req.socket as import('node:tls').TLSSocket).servername })
        if (req.url === '/downgrade') res.writeHead(307, { location: `http://hooks.example.test:${port}/plain` }).end()
        else res.writeHead(200).end()
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as AddressInfo).port
  })
  afterAll(async () => {
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  const options = (): SendOptions => ({
    timeoutMs: 2_000,
    allowPrivate: true,
    lookup: fakeLookup({ 'hooks.example.test': ['127.0.0.1'], 'other.example.test': ['127.0.0.1'] }),
    connect: pinnedConnector({ ca: cert }),
  })
  const message = (url: string) => ({ deliveryId: 'd-tls', url, secret: 's', event: 'complaint.created', body: '{}' })

  it('connects to the vetted address with SNI and Host set to the name', async () => {
    expect(await sendWebhook(message(`https://hooks.example.test:${port}/in`), options())).toEqual({ kind: 'delivered', status: 200 })
    expect(seen.at(-1)).toEqual({ path: '/in', host: `hooks.example.test:${port}`, sni: 'hooks.example.test' })
  })

  it('checks the certificate against the name, not the address', async () => {
    const result = await sendWebhook(message(`https://other.example.test:${port}/in`), options())
    expect(result.kind).toBe('retry')
    expect(result.kind === 'retry' && result.error).toContain('ERR_TLS_CERT_ALTNAME_INVALID')
  })

  it('does not follow a redirect from https to http', async () => {
    expect(await sendWebhook(message(`https://hooks.example.test:${port}/downgrade`), options())).toEqual({
      kind: 'failed',
      status: 307,
      error: 'HTTP 307 from https to http is not followed',
    })
  })
})
