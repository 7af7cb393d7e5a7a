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
    decodeBody(request.headers['content-encoding'], body as Buffer, limits, (bytes) => decodedSizes.set(request, bytes)).then(
      (value) => done(null, value),
      (err: Error) => done(err, undefined),
    )
  })
}

// Requests end and are collected; a WeakMap keeps nothing alive and needs no request decorator.
const decodedSizes = new WeakMap<object, number>()

/**
 * The bytes of JSON the parser read for this request (after gzip), or undefined when it did not
 * parse the body. An event cannot be larger than the body it came in.
 */
export function parsedBodyBytes(request: object): number | undefined {
  return decodedSizes.get(request)
}

export async function decodeBody(
  encoding: string | undefined,
  body: Buffer,
  limits: BodyLimits,
  onDecoded?: (bytes: number) => void,
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
  onDecoded?.(raw.length)
  try {
    return secureJson.parse(raw, undefined, { protoAction: 'error', constructorAction: 'error' })
  } catch (err) {
    const message = (err as Error).message
    if (/forbidden prototype property/i.test(message)) throw new ForbiddenKeyError()
    throw new InvalidJsonError(message.slice(0, 200))
  }
}
