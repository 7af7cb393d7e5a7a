import pino, { type Logger } from 'pino'

export type { Logger }

/** Keys whose values never reach a log line. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'adminToken',
  'ingest_key',
  'query_key',
  'password',
  'secret',
]

/** `destination` is stdout unless given (tests pass a stream to read what was logged). */
export function createLogger(options: { level: string; name?: string; destination?: pino.DestinationStream }): Logger {
  const pinoOptions = {
    level: options.level,
    name: options.name ?? 'sluice',
    redact: { paths: REDACT, censor: '[redacted]' },
    base: { pid: process.pid },
  }
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions)
}
