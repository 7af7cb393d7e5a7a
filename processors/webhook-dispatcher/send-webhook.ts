import http, { type IncomingHttpHeaders } from 'node:http'
import https from 'node:https'
import net, { isIP } from 'node:net'
import type { Duplex } from 'node:stream'
import tls from 'node:tls'
import { parseRetryAfter } from './backoff.ts'
import { resolveDestination, type Destination, type ResolveOptions } from './ssrf-guard.ts'
import { signWebhook } from './webhook-signature.ts'

export const MAX_REDIRECTS = 3
/** The response is read only this far: enough for an error snippet, never a memory risk. */
export const MAX_RESPONSE_BYTES = 64 * 1024
const USER_AGENT = 'Sluice-Webhooks/1'
const SNIPPET_CHARS = 200
// 303 is not here: see `classify`.
const FOLLOWED_REDIRECTS = new Set([301, 302, 307, 308])

/** One delivery as the outbox holds it. */
export interface WebhookMessage {
  /** Sent as `x-sluice-delivery`, the same on every attempt, so receivers can deduplicate. */
  deliveryId: string
  url: string
  secret: string
  event: string
  /** The exact JSON text to send and sign. */
  body: string
}

/** What one attempt came to. Values, not throws: the dispatcher turns each into a row update. */
export type SendResult =
  | { kind: 'delivered'; status: number }
  /** Network error, timeout, 408, 429 or 5xx. `retryAfterMs` from Retry-After on 429 and 503. */
  | { kind: 'retry'; status?: number; error: string; retryAfterMs?: number }
  /** Other 4xx, a redirect that cannot be followed: retrying would not help. */
  | { kind: 'failed'; status?: number; error: string }
  /** The SSRF guard said no (first hop or a redirect); nothing was sent there. */
  | { kind: 'refused'; error: string }

/** Opens the socket for one request to the vetted address. The only way a webhook reaches the network. */
export type PinnedConnect = (destination: Destination) => Duplex

/**
 * Connects to `destination.address` itself (no DNS), with TLS SNI and certificate checks against
 * the host name, so what the guard vetted is what the request reaches. `tlsOptions` adds to the
 * TLS settings (tests pass `ca` to trust a self-signed receiver); the pinning is not negotiable.
 */
export function pinnedConnector(tlsOptions: Pick<tls.ConnectionOptions, 'ca'> = {}): PinnedConnect {
  return (d) =>
    d.tls
      ? tls.connect({
          ...tlsOptions,
          host: d.address,
          port: d.port,
          // SNI carries names only; an IP-literal URL is checked against the certificate's IP entries.
          servername: isIP(d.hostname) ? undefined : d.hostname.replace(/\.$/, ''),
          ALPNProtocols: ['http/1.1'],
        })
      : net.connect({ host: d.address, port: d.port })
}

/** The default connector: the system's trusted CAs. */
export const connectPinned: PinnedConnect = pinnedConnector()

export interface SendOptions extends ResolveOptions {
  /** For the whole attempt: DNS, every redirect hop, and reading the response. */
  timeoutMs: number
  connect?: PinnedConnect
  maxRedirects?: number
  /** The clock, in ms (signature timestamp, Retry-After dates). */
  now?: () => number
}

/**
 * POSTs one webhook and says what came of it. Redirects are followed by hand, at most
 * `maxRedirects` (3): 301, 302, 307 and 308 are re-sent as the same signed POST to the new
 * location, each hop vetted again by the SSRF guard; 303 and an https → http redirect are failures.
 *
 *   const result = await sendWebhook(message, { timeoutMs: 10_000, allowPrivate: false })
 */
export async function sendWebhook(message: WebhookMessage, options: SendOptions): Promise<SendResult> {
  const now = options.now ?? Date.now
  const maxRedirects = options.maxRedirects ?? MAX_REDIRECTS
  const connect = options.connect ?? connectPinned
  const body = Buffer.from(message.body, 'utf8')
  const headers = {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    'x-sluice-event': message.event,
    'x-sluice-delivery': message.deliveryId,
    // Fresh per attempt (receivers reject old timestamps), the same across the hops of one attempt.
    'x-sluice-signature': signWebhook(message.secret, message.body, Math.floor(now() / 1000)),
  }
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), options.timeoutMs)
  try {
    let url: URL | string = message.url
    for (let hop = 0; ; hop++) {
      const resolution = await untilAborted(resolveDestination(url, options), controller.signal)
      if (resolution.kind === 'refused') {
        return { kind: 'refused', error: hop === 0 ? resolution.error : `redirect refused: ${resolution.error}` }
      }
      if (resolution.kind === 'unresolved') return { kind: 'retry', error: resolution.error }
      const { destination } = resolution

      const answer = await post(destination, headers, body, controller.signal, connect)
      const { status } = answer
      if (!FOLLOWED_REDIRECTS.has(status)) return classify(answer, now())
      const location = answer.headers.location
      if (!location) return { kind: 'failed', status, error: `HTTP ${status} without a Location header` }
      if (hop >= maxRedirects) return { kind: 'failed', status, error: `more than ${maxRedirects} redirects` }
      let next: URL
      try {
        next = new URL(location, destination.url)
      } catch {
        return { kind: 'failed', status, error: `HTTP ${status} to an invalid Location` }
      }
      if (destination.tls && next.protocol === 'http:') {
        return { kind: 'failed', status, error: `HTTP ${status} from https to http is not followed` }
      }
      url = next
    }
  } catch (err) {
    if (controller.signal.aborted) return { kind: 'retry', error: `timed out after ${options.timeoutMs} ms` }
    return { kind: 'retry', error: networkErrorText(err) }
  } finally {
    clearTimeout(timer)
  }
}

interface Answer {
  status: number
  headers: IncomingHttpHeaders
  snippet: string
}

function classify(answer: Answer, nowMs: number): SendResult {
  const { status } = answer
  if (status >= 200 && status < 300) return { kind: 'delivered', status }
  const error = `HTTP ${status}${answer.snippet ? `: ${answer.snippet}` : ''}`
  if (status === 408 || status === 429 || (status >= 500 && status < 600)) {
    const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(answer.headers['retry-after'], nowMs) : undefined
    return retryAfterMs === undefined ? { kind: 'retry', status, error } : { kind: 'retry', status, error, retryAfterMs }
  }
  // 303 asks for a GET of another resource: the payload would not arrive, and a 2xx there would
  // read as a delivery that never happened.
  if (status === 303) return { kind: 'failed', status, error: 'HTTP 303 See Other is not followed (it would drop the payload)' }
  return { kind: 'failed', status, error }
}

/** One POST over a pinned socket; resolves with the status, headers and the start of the body. */
function post(d: Destination, headers: Record<string, string>, body: Buffer, signal: AbortSignal, connect: PinnedConnect): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    let settled = false
    const fail = (err: unknown) => {
      if (settled) return
      settled = true
      reject(err)
    }
    const request = (d.tls ? https : http).request(
      {
        method: 'POST',
        host: d.hostname,
        port: d.port,
        path: `${d.url.pathname}${d.url.search}`,
        headers: { ...headers, host: d.url.host, 'content-length': body.length, connection: 'close' },
        signal,
        // TRICKY: with createConnection and no agent, Node neither resolves the name nor reuses a
        // pooled socket: the vetted address is the only place this request can go.
        createConnection: () => connect(d),
      },
      (response) => {
        const chunks: Buffer[] = []
        let size = 0
        const finish = () => {
          if (settled) return
          settled = true
          const text = Buffer.concat(chunks).toString('utf8').replace(/\s+/g, ' ').trim()
          resolve({ status: response.statusCode ?? 0, headers: response.headers, snippet: text.slice(0, SNIPPET_CHARS) })
          response.destroy()
        }
        response.on('data', (chunk: Buffer) => {
          const room = MAX_RESPONSE_BYTES - size
          if (room > 0) chunks.push(chunk.subarray(0, room))
          size += chunk.length
          if (size >= MAX_RESPONSE_BYTES) finish()
        })
        response.on('end', finish)
        response.on('error', fail)
        response.on('close', () => fail(new Error('the connection closed before the response ended')))
      },
    )
    request.on('error', fail)
    request.end(body)
  })
}

/** Rejects when `signal` aborts, for work that cannot be cancelled itself (getaddrinfo). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(err)
      },
    )
  })
}

function networkErrorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const code = (err as NodeJS.ErrnoException).code
  return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message
}
