import type { Redis } from '../lib/redis.ts'
import type { Metrics } from '../lib/metrics.ts'
import type { Logger } from '../lib/logger.ts'

export interface RateDecision {
  allowed: boolean
  retryAfterSeconds: number
  /** The configured budget, for the 429's message. */
  eventsPerSecond: number
}

/**
 * Events per second per project, counted in Redis so every ingest process shares one budget.
 * When Redis does not answer, the check fails open: losing events the broker could take would be
 * worse than letting a burst through, and the metric shows it.
 */
export function createRateLimiter(options: { redis: Redis; eventsPerSecond: number; metrics: Metrics; logger: Logger }) {
  const { redis, eventsPerSecond } = options
  return async function take(projectId: string, events: number): Promise<RateDecision> {
    if (eventsPerSecond === 0) return { allowed: true, retryAfterSeconds: 0, eventsPerSecond }
    const second = Math.floor(Date.now() / 1000)
    const key = `sluice:rate:${projectId}:${second}`
    try {
      const results = await redis.multi().incrby(key, events).expire(key, 2).exec()
      const used = Number(results?.[0]?.[1] ?? 0)
      // A single batch larger than the whole budget passes when it is alone in its second.
      if (used > eventsPerSecond && used !== events) {
        await redis.decrby(key, events)
        return { allowed: false, retryAfterSeconds: 1, eventsPerSecond }
      }
      return { allowed: true, retryAfterSeconds: 0, eventsPerSecond }
    } catch (err) {
      options.metrics.rateLimiterErrors.inc()
      options.logger.warn({ err }, 'rate limiter unavailable; failing open')
      return { allowed: true, retryAfterSeconds: 0, eventsPerSecond }
    }
  }
}

export type RateLimiter = ReturnType<typeof createRateLimiter>
