import { Redis } from 'ioredis'
import type { Logger } from './logger.ts'

export type { Redis }

// While Redis is unreachable ioredis reports every reconnect attempt; one line per outage (and
// then one every half minute) says it without flooding the log.
const REPEAT_ERROR_LOG_MS = 30_000

export function createRedis(options: { url: string; logger?: Logger }): Redis {
  const redis = new Redis(options.url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectTimeout: 3_000,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  })
  // Without a listener ioredis prints "Unhandled error event" to stderr for each attempt. The
  // commands themselves fail (and are handled where they are sent); /ready reports the outage.
  let lastLoggedAt = 0
  redis.on('error', (err: Error) => {
    const now = Date.now()
    if (now - lastLoggedAt < REPEAT_ERROR_LOG_MS) return
    lastLoggedAt = now
    options.logger?.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'redis unreachable; reconnecting')
  })
  redis.on('ready', () => {
    if (lastLoggedAt > 0) options.logger?.info('redis reachable again')
    lastLoggedAt = 0
  })
  return redis
}
