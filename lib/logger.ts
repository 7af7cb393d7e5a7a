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

export function createLogger(options: { level: string; name?: string }): Logger {
  return pino({
    level: options.level,
    name: options.name ?? 'sluice',
    redact: { paths: REDACT, censor: '[redacted]' },
    base: { pid: process.pid },
  })
}
