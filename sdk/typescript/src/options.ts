import { randomUUID } from 'node:crypto'
import type { DropReport } from './transport.ts'

/** What `new Sluice(options)` takes. Only `endpoint` and `apiKey` are required. */
export interface SluiceOptions {
  /** Base URL of Sluice, e.g. `http://localhost:8000`; events go to `<endpoint>/ingest`. */
  endpoint: string
  /** The project's ingest key. */
  apiKey: string
  /** A send starts once this many events are queued. Default 100. */
  flushAt?: number
  /** Queued events wait at most this long before a send starts. Default 1000 ms. */
  flushIntervalMs?: number
  /** Most events in one request (Sluice accepts up to 10,000). Default 1000. */
  maxBatchEvents?: number
  /** Most bytes of uncompressed JSON in one request body (one larger event goes alone). Default 1 MiB. */
  maxBatchBytes?: number
  /** An event whose JSON is larger is dropped (`too_large`) when recorded (Sluice refuses over 1 MiB). Default 1 MiB. */
  maxEventBytes?: number
  /** Most events waiting in memory; past it the oldest is dropped (`queue_overflow`). Default 10,000. */
  maxQueueSize?: number
  /** Most bytes of event JSON waiting in memory; past it the oldest is dropped. Default 32 MiB. */
  maxQueueBytes?: number
  /**
   * Most requests under way at once, each carrying its own batch (with its own retries). More
   * than one keeps the connection busy while Sluice answers the last. Default 4.
   */
  maxInFlight?: number
  /** One request attempt is abandoned (and retried) after this long. Default 10,000 ms. */
  requestTimeoutMs?: number
  /** Retries of one batch after network errors, 408, 429 and 5xx; then it is dropped. Default 5. */
  maxRetries?: number
  /** Backoff before retry n is random in [0, min(retryMaxMs, retryBaseMs * 2^n)) (full jitter). Default 500 ms. */
  retryBaseMs?: number
  /** Cap of one backoff, and of a `Retry-After` the server asks for. Default 30,000 ms. */
  retryMaxMs?: number
  /** How long `shutdown()` and the flush at process exit may take. Default 5000 ms. */
  shutdownTimeoutMs?: number
  /** Compress request bodies with gzip. Default true. */
  gzip?: boolean
  /** Flush when the process is about to exit on its own (Node's `beforeExit`). Default true. */
  flushOnExit?: boolean
  /** Log what the client does (batches, retries, drops) to stderr. Default false. */
  debug?: boolean
  /** Called for every event the client gives up on, with the reason. Errors it throws are ignored. */
  onDrop?: (report: DropReport) => void
  /** Wall clock in epoch milliseconds, for timestamps. Default `Date.now`. */
  clock?: () => number
  /** Makes event, run and step ids (UUIDs). Default `crypto.randomUUID`. */
  generateId?: () => string
}

export type ResolvedOptions = Required<Omit<SluiceOptions, 'onDrop'>> & Pick<SluiceOptions, 'onDrop'> & { ingestUrl: string }

const MiB = 1024 * 1024

/** Every default; `sdk/testdata/defaults.json` says the same (a test keeps the two equal). */
export const DEFAULTS = Object.freeze({
  flushAt: 100,
  flushIntervalMs: 1000,
  maxBatchEvents: 1000,
  maxBatchBytes: 1 * MiB,
  maxEventBytes: 1 * MiB,
  maxQueueSize: 10_000,
  maxQueueBytes: 32 * MiB,
  maxInFlight: 4,
  requestTimeoutMs: 10_000,
  maxRetries: 5,
  retryBaseMs: 500,
  retryMaxMs: 30_000,
  shutdownTimeoutMs: 5000,
  gzip: true,
  flushOnExit: true,
  debug: false,
})

type NumericOption = { [K in keyof typeof DEFAULTS]: (typeof DEFAULTS)[K] extends number ? K : never }[keyof typeof DEFAULTS]

// flushAt, maxBatchEvents and maxQueueSize count events, maxInFlight requests: at least 1.
const AT_LEAST_ONE: ReadonlySet<NumericOption> = new Set(['flushAt', 'maxBatchEvents', 'maxQueueSize', 'maxInFlight'])

/**
 * Fills in the defaults and checks the options. Mistakes in configuration throw here, at
 * construction, where the caller sees them; nothing later does.
 */
export function resolveOptions(options: SluiceOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('Sluice: options must be an object')
  const { endpoint, apiKey } = options
  if (typeof endpoint !== 'string' || !/^https?:\/\//i.test(endpoint)) {
    throw new TypeError(`Sluice: endpoint must be an http(s) URL, not ${JSON.stringify(endpoint)}`)
  }
  if (typeof apiKey !== 'string' || apiKey.length === 0) throw new TypeError('Sluice: apiKey is required')
  const resolved: Record<string, unknown> = { ...DEFAULTS }
  for (const key of Object.keys(DEFAULTS) as Array<keyof typeof DEFAULTS>) {
    const value = options[key]
    if (value === undefined) continue
    if (typeof DEFAULTS[key] === 'boolean') {
      if (typeof value !== 'boolean') throw new TypeError(`Sluice: ${key} must be a boolean`)
    } else {
      const min = AT_LEAST_ONE.has(key as NumericOption) ? 1 : 0
      if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
        throw new RangeError(`Sluice: ${key} must be a number >= ${min}, not ${String(value)}`)
      }
    }
    resolved[key] = value
  }
  return {
    ...(resolved as typeof DEFAULTS),
    endpoint,
    apiKey,
    ingestUrl: `${endpoint.replace(/\/+$/, '')}/ingest`,
    onDrop: options.onDrop,
    clock: options.clock ?? Date.now,
    generateId: options.generateId ?? randomUUID,
  }
}
