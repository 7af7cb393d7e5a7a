/**
 * A local HTTP server standing in for Sluice's `POST /ingest`, answering as each test tells it:
 *
 *   const server = await startFakeIngest((req, n) => (n === 0 ? { status: 503, headers: { 'retry-after': '0' } } : { status: 200 }))
 *   ...
 *   server.requests[0].events   // the decoded events of the first request
 *
 * `status: 0` closes the connection without an answer; `hang: true` never answers.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { gunzipSync } from 'node:zlib'

export interface RecordedRequest {
  /** performance.now() when the request's body had arrived. */
  at: number
  method: string
  url: string
  headers: IncomingHttpHeaders
  /** Bytes as sent (compressed when gzip). */
  bytes: number
  /** Bytes of the JSON body once decoded. */
  jsonBytes: number
  events: Array<{ id: string; type: string; timestamp: string; data: Record<string, unknown> }>
}

export interface ScriptedAnswer {
  status: number
  body?: unknown
  headers?: Record<string, string>
  hang?: boolean
}

export type Responder = (request: RecordedRequest, index: number) => ScriptedAnswer | Promise<ScriptedAnswer>

export interface FakeIngest {
  url: string
  requests: RecordedRequest[]
  /** Event ids of every request, in arrival order. */
  ids(): string[][]
  setResponder(respond: Responder): void
  /** Resolves once `n` requests have arrived. */
  waitForRequests(n: number, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

const OK: Responder = () => ({ status: 200 })

/** The body Sluice would send with `status` (200: ok with the count; others: its error shape). */
export function defaultBody(status: number, events: number): unknown {
  if (status >= 200 && status < 300) return { status: 'ok', processed: events }
  return { statusCode: status, error: `HTTP ${status}`, code: 'SLUICE_ERR_TEST', message: `scripted ${status}` }
}

export async function startFakeIngest(respond: Responder = OK): Promise<FakeIngest> {
  let responder = respond
  const requests: RecordedRequest[] = []
  const sockets = new Set<Socket>()
  const arrivals = new Set<() => void>()

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks)
      const json = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw
      let events: RecordedRequest['events'] = []
      try {
        events = (JSON.parse(json.toString('utf8')) as { events: RecordedRequest['events'] }).events
      } catch {
        // recorded with no events; the test sees it
      }
      const recorded: RecordedRequest = {
        at: performance.now(),
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        bytes: raw.length,
        jsonBytes: json.length,
        events,
      }
      const index = requests.push(recorded) - 1
      for (const notify of [...arrivals]) notify()
      void Promise.resolve(responder(recorded, index)).then((answer) => reply(res, answer, events.length))
    })
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  server.keepAliveTimeout = 60_000

  function reply(res: ServerResponse, answer: ScriptedAnswer, events: number): void {
    if (answer.hang) return
    if (answer.status === 0) {
      res.socket?.destroy()
      return
    }
    const body = JSON.stringify(answer.body ?? defaultBody(answer.status, events))
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers })
    res.end(body)
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    ids: () => requests.map((r) => r.events.map((e) => e.id)),
    setResponder(next) {
      responder = next
    },
    waitForRequests(n, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (requests.length < n) return
          clearTimeout(timer)
          arrivals.delete(check)
          resolve()
        }
        const timer = setTimeout(() => {
          arrivals.delete(check)
          reject(new Error(`expected ${n} requests within ${timeoutMs} ms, got ${requests.length}`))
        }, timeoutMs)
        arrivals.add(check)
        check()
      })
    },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
