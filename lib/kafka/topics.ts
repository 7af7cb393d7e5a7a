import type { Admin } from 'kafkajs'
import { ConfigResourceTypes, ConfigSource } from './kafka-enums.ts'

export interface TopicSpec {
  topic: string
  partitions: number
  replicationFactor: number
  configs?: Record<string, string>
  /**
   * Settings the topic must have at least (numbers): set on creation and raised on a topic that
   * exists with less, e.g. `max.message.bytes`, so that an event the API accepts always fits.
   */
  minimums?: Record<string, number>
}

/** The topics' `max.message.bytes`: the largest event the API accepts, its envelope and headers. */
export function topicMaxMessageBytes(maxEventBytes: number): number {
  return maxEventBytes + 1024 * 1024
}

/**
 * Creates the topics Sluice needs when they are missing, and raises the `minimums` of those that
 * exist. Brokers run with topic auto-creation off, so this runs before any producer or consumer starts.
 */
export async function ensureTopics(admin: Admin, specs: readonly TopicSpec[]): Promise<void> {
  const existing = new Set(await admin.listTopics())
  const missing = specs.filter((s) => !existing.has(s.topic))
  if (missing.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((s) => ({
        topic: s.topic,
        numPartitions: s.partitions,
        replicationFactor: s.replicationFactor,
        configEntries: Object.entries({ ...s.configs, ...stringValues(s.minimums) }).map(([name, value]) => ({ name, value })),
      })),
    })
  }
  for (const spec of specs) if (existing.has(spec.topic) && spec.minimums) await raiseMinimums(admin, spec.topic, spec.minimums)
}

async function raiseMinimums(admin: Admin, topic: string, minimums: Record<string, number>): Promise<void> {
  const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }] })
  const entries = described.resources[0]?.configEntries ?? []
  const low = Object.entries(minimums).filter(([name, min]) => {
    const value = Number(entries.find((e) => e.configName === name)?.configValue)
    return !(value >= min)
  })
  if (low.length === 0) return
  // AlterConfigs (the only kind kafkajs speaks) replaces every setting of the topic: keep its own.
  const own = entries.filter((e) => e.configSource === ConfigSource.TOPIC_CONFIG && !e.readOnly)
  const configEntries = new Map(own.map((e) => [e.configName, e.configValue]))
  for (const [name, min] of low) configEntries.set(name, String(min))
  await admin.alterConfigs({
    validateOnly: false,
    resources: [
      { type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [...configEntries].map(([name, value]) => ({ name, value })) },
    ],
  })
}

function stringValues(numbers: Record<string, number> = {}): Record<string, string> {
  return Object.fromEntries(Object.entries(numbers).map(([k, v]) => [k, String(v)]))
}
