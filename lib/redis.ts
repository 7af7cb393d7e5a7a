import { Redis } from 'ioredis'

export type { Redis }

export function createRedis(options: { url: string }): Redis {
  return new Redis(options.url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectTimeout: 3_000,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  })
}
