/**
 * The bench's load generator and its small HTTP client: C workers in a closed loop (each sends its
 * next batch as soon as the previous one is acknowledged), counted over a window after a warm-up.
 */
import http from 'node:http'

export interface WindowResult<S> {
  /** Events of the requests that completed inside the window. */
  events: number
  requests: number
  failures: number
  firstFailure: string | undefined
  seconds: number
  eventsPerSecond: number
  /** Latency of every request that completed inside the window, in ms. */
  latenciesMs: number[]
  /** What `probe` returned at the start and at the end of the window. */
  probes: [S, S]
}

export interface ClosedLoopOptions<S> {
  concurrency: number
  warmupMs: number
  durationMs: number
  /** Sends request number `seq`; resolves with the number of events acknowledged. */
  send: (seq: number) => Promise<number>
  /** Called at the start and end of the window (CPU counters, say). */
  probe: () => S
}

/**
 * Runs `concurrency` closed-loop workers for warmup + duration. Throughput counts the requests that
 * complete inside the window, whenever they started: in a steady state that is the completion rate,
 * without the bias of dropping the requests that straddle either edge.
 */
export async function closedLoop<S>(options: ClosedLoopOptions<S>): Promise<WindowResult<S>> {
  const start = performance.now()
  const windowStart = start + options.warmupMs
  const windowEnd = windowStart + options.durationMs
  let seq = 0
  let events = 0
  let requests = 0
  let failures = 0
  let firstFailure: string | undefined
  const latenciesMs: number[] = []
  let startProbe: S | undefined
  let endProbe: S | undefined
  const startTimer = setTimeout(() => (startProbe = options.probe()), options.warmupMs)
  const endTimer = setTimeout(() => (endProbe = options.probe()), options.warmupMs + options.durationMs)

  async function worker(): Promise<void> {
    while (performance.now() < windowEnd) {
      const t0 = performance.now()
      try {
        const n = await options.send(seq++)
        const t1 = performance.now()
        if (t1 >= windowStart && t1 <= windowEnd) {
          events += n
          requests++
          latenciesMs.push(t1 - t0)
        }
      } catch (err) {
        const t1 = performance.now()
        if (t1 >= windowStart && t1 <= windowEnd) failures++
        firstFailure ??= err instanceof Error ? err.message : String(err)
        // A failing server answers fast: do not spin on it.
        await sleep(50)
      }
    }
  }

  await Promise.all(Array.from({ length: options.concurrency }, () => worker()))
  clearTimeout(startTimer)
  clearTimeout(endTimer)
  const seconds = options.durationMs / 1000
  return {
    events,
    requests,
    failures,
    firstFailure,
    seconds,
    eventsPerSecond: events / seconds,
    latenciesMs,
    probes: [startProbe ?? options.probe(), endProbe ?? options.probe()],
  }
}

/** Nearest-rank percentile of unsorted values (NaN when empty). */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export interface HttpAnswer {
  status: number
  text: string
}

/**
 * A keep-alive HTTP/1.1 client on node:http: lighter on the shared CPU than fetch, and one socket
 * per worker, as an SDK would hold.
 */
export function createHttpClient(baseUrl: string, options: { maxSockets: number }) {
  const base = new URL(baseUrl)
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.maxSockets })

  function request(method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: base.hostname,
          port: base.port,
          method,
          path,
          agent,
          headers: body ? { ...headers, 'content-length': String(body.length) } : headers,
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }))
          res.on('error', reject)
        },
      )
      req.on('error', reject)
      req.end(body)
    })
  }

  return {
    request,
    get: (path: string, headers: Record<string, string> = {}) => request('GET', path, headers),
    post: (path: string, headers: Record<string, string>, body: Buffer) => request('POST', path, headers, body),
    close: () => agent.destroy(),
  }
}

export type HttpClient = ReturnType<typeof createHttpClient>

export interface OpenLoopOptions {
  /** Requests a second, sent on a clock whatever the answers (open loop). */
  requestsPerSecond: number
  warmupMs: number
  durationMs: number
  /** Requests that may be unanswered at once; past it the clock waits (and the request is late). */
  maxInFlight: number
  send: (seq: number) => Promise<unknown>
}

export interface OpenLoopResult {
  /** Time from when each request was due by the clock to its answer, in the counted window. */
  latenciesMs: number[]
  requests: number
  failures: number
  /** Requests that could not leave on time because maxInFlight were unanswered. */
  late: number
}

/**
 * A steady load at a set rate. Latency counts from the moment the clock said to send, not from
 * the moment the request left, so a server that falls behind is not flattered (no coordinated
 * omission).
 */
export async function openLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const intervalMs = 1000 / options.requestsPerSecond
  const start = performance.now()
  const windowStart = start + options.warmupMs
  const windowEnd = windowStart + options.durationMs
  const latenciesMs: number[] = []
  let requests = 0
  let failures = 0
  let late = 0
  let inFlight = 0
  const pending = new Set<Promise<void>>()
  for (let seq = 0; ; seq++) {
    const due = start + seq * intervalMs
    if (due >= windowEnd) break
    const wait = due - performance.now()
    if (wait > 0) await sleep(wait)
    if (inFlight >= options.maxInFlight) {
      if (due >= windowStart) late++
      while (inFlight >= options.maxInFlight) await Promise.race(pending)
    }
    inFlight++
    const p: Promise<void> = options.send(seq).then(
      () => {
        const t1 = performance.now()
        if (due >= windowStart) {
          requests++
          latenciesMs.push(t1 - due)
        }
      },
      () => {
        if (due >= windowStart) failures++
      },
    ).finally(() => {
      inFlight--
      pending.delete(p)
    })
    pending.add(p)
  }
  await Promise.all(pending)
  return { latenciesMs, requests, failures, late }
}
