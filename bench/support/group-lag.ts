/**
 * Consumer lag of the processor's groups, read straight from Kafka with the project's own
 * fetchConsumerLag (committed offsets against end offsets), so it works whatever roles the
 * processor child runs and without its admin token.
 */
import type { Admin } from 'kafkajs'
import { fetchConsumerLag } from '../../lib/kafka/consumer-lag.ts'
import { sleep } from './load.ts'

/** Total lag of each group on `topic`, over all partitions; a group that never committed lags by the whole topic. */
export async function groupLags(admin: Admin, topic: string, groups: readonly string[]): Promise<Map<string, number>> {
  const rows = await fetchConsumerLag(admin, groups.map((group) => ({ group, topics: [topic] })))
  const lags = new Map<string, number>(groups.map((g) => [g, 0]))
  for (const r of rows) lags.set(r.group, lags.get(r.group)! + r.lag)
  return lags
}

/**
 * Polls until every group's lag is 0 and returns, per group, the ms since `since` at which it
 * first was (one poll's precision). Throws after `timeoutMs` with the lags it saw last.
 */
export async function waitForZeroLag(
  admin: Admin,
  o: { topic: string; groups: readonly string[]; since: number; pollMs: number; timeoutMs: number; onPoll?: (lags: Map<string, number>) => void; signal?: AbortSignal },
): Promise<Map<string, number>> {
  const reachedAt = new Map<string, number>()
  let last = new Map<string, number>()
  while (reachedAt.size < o.groups.length) {
    o.signal?.throwIfAborted()
    if (performance.now() - o.since > o.timeoutMs) {
      throw new Error(`lag not 0 after ${o.timeoutMs / 1000} s: ${[...last].map(([g, l]) => `${g} ${l}`).join(', ')}`)
    }
    const pollAt = performance.now()
    last = await groupLags(admin, o.topic, o.groups).catch(() => last)
    o.onPoll?.(last)
    for (const [group, lag] of last) if (lag === 0 && !reachedAt.has(group)) reachedAt.set(group, performance.now() - o.since)
    if (reachedAt.size < o.groups.length) await sleep(Math.max(0, pollAt + o.pollMs - performance.now()))
  }
  return reachedAt
}
