import type { Admin } from 'kafkajs'

export interface TopicSpec {
  topic: string
  partitions: number
  replicationFactor: number
  configs?: Record<string, string>
}

/**
 * Creates the topics Sluice needs when they are missing. Brokers run with topic auto-creation off,
 * so this runs before any producer or consumer starts.
 */
export async function ensureTopics(admin: Admin, specs: readonly TopicSpec[]): Promise<void> {
  const existing = new Set(await admin.listTopics())
  const missing = specs.filter((s) => !existing.has(s.topic))
  if (missing.length === 0) return
  await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map((s) => ({
      topic: s.topic,
      numPartitions: s.partitions,
      replicationFactor: s.replicationFactor,
      configEntries: Object.entries(s.configs ?? {}).map(([name, value]) => ({ name, value })),
    })),
  })
}
