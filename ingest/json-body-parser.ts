import { promisify } from 'node:util'
import { gunzip as gunzipCb } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import secureJson from 'secure-json-parse'
import {
  DecompressedTooLargeError,
  ForbiddenKeyError,
  InvalidBodyError,
  InvalidJsonError,
  UnsupportedEncodingError,
} from '../lib/errors.ts'

const gunzip = promisify(gunzipCb)

export interface BodyLimits {
  /** Bytes as sent, compressed or not; fastify stops reading past it (413). */
  maxBodyBytes: number
  /** Bytes once inflated; zlib stops inflating past it (413), so a gzip bomb costs nothing. */
  maxDecompressedBytes: number
}

/**
 * JSON bodies for Sluice's write routes: gzip or identity encoding, both size limits, and objects
 * carrying `__proto__` or `constructor.prototype` refused rather than parsed.
 */
export function registerJsonBodyParser(app: FastifyInstance, limits: BodyLimits): void {
  // Every other type (fastify's default text/plain parser included) must be a 415, not a string body.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: limits.maxBodyBytes }, (request, body, done) => {
    decodeBody(request.headers['content-encoding'], body as Buffer, limits, (decoded) => decodedBodies.set(request, decoded)).then(
      (value) => done(null, value),
      (err: Error) => done(err, undefined),
    )
  })
}

/** What the parser learnt of a body's JSON text (after gzip) on the way. */
export interface DecodedBody {
  /** An event cannot be larger than the body it came in. */
  bytes: number
  /**
   * False when the text has no `\u` escape. JSON text cannot carry a raw NUL (control characters
   * must be escaped) and UTF-8 decoding never yields a lone surrogate (invalid bytes become
   * U+FFFD), so without an escape no parsed string, key or value, holds text a store refuses
   * (lib/json-guard.ts) and the per-string check can be skipped.
   */
  mayHoldUnstorableText: boolean
}

// Requests end and are collected; a WeakMap keeps nothing alive and needs no request decorator.
const decodedBodies = new WeakMap<object, DecodedBody>()

/** What the parser read for this request, or undefined when it did not parse the body. */
export function parsedBody(request: object): DecodedBody | undefined {
  return decodedBodies.get(request)
}

export async function decodeBody(
  encoding: string | undefined,
  body: Buffer,
  limits: BodyLimits,
  onDecoded?: (decoded: DecodedBody) => void,
): Promise<unknown> {
  const enc = (encoding ?? 'identity').trim().toLowerCase()
  let raw: Buffer
  if (enc === 'identity' || enc === '') raw = body
  else if (enc === 'gzip' || enc === 'x-gzip') {
    try {
      raw = await gunzip(body, { maxOutputLength: limits.maxDecompressedBytes })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new DecompressedTooLargeError(limits.maxDecompressedBytes)
      throw new InvalidBodyError('Body is not valid gzip')
    }
  } else throw new UnsupportedEncodingError(enc.slice(0, 50))
  if (raw.length === 0) throw new InvalidJsonError('empty body')
  // TRICKY: a false positive (an escaped backslash before a `u`) only costs the check; a miss cannot happen.
  onDecoded?.({ bytes: raw.length, mayHoldUnstorableText: raw.includes('\\u') })
  try {
    return secureJson.parse(raw, undefined, { protoAction: 'error', constructorAction: 'error' })
  } catch (err) {
    const message = (err as Error).message
    if (/forbidden prototype property/i.test(message)) throw new ForbiddenKeyError()
    throw new InvalidJsonError(message.slice(0, 200))
  }
}
