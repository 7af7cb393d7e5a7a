import { randomUUID } from 'node:crypto'
import { ConfigResourceTypes } from './kafka-enums.ts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testServices } from '../../test/helpers/services.ts'
import { createLogger } from '../logger.ts'
import { createKafka } from './kafka-client.ts'
import { ensureTopics, topicMaxMessageBytes } from './topics.ts'

describe('ensureTopics on a real broker', () => {
  const kafka = createKafka({ brokers: testServices().kafkaBrokers, clientId: 'topics-test', logger: createLogger({ level: 'silent' }) })
  const admin = kafka.admin()
  const created = `test.topics.${randomUUID().slice(0, 8)}`
  const existing = `test.topics.${randomUUID().slice(0, 8)}`
  const minimums = { 'max.message.bytes': topicMaxMessageBytes(1024 * 1024) }

  async function configOf(topic: string): Promise<Record<string, string>> {
    const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }] })
    return Object.fromEntries(described.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]))
  }

  beforeAll(async () => {
    await admin.connect()
  })
  afterAll(async () => {
    await admin.deleteTopics({ topics: [created, existing] }).catch(() => {})
    await admin.disconnect()
  })

  it('creates a topic with max.message.bytes room for a 1 MiB event', async () => {
    await ensureTopics(admin, [{ topic: created, partitions: 2, replicationFactor: 1, minimums }])
    expect((await configOf(created))['max.message.bytes']).toBe(String(2 * 1024 * 1024))
  })

  it('raises max.message.bytes of a topic that exists with the broker default, keeping its own settings', async () => {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: existing, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '3600000' }, { name: 'max.message.bytes', value: '100000' }] }],
    })
    await ensureTopics(admin, [{ topic: existing, partitions: 1, replicationFactor: 1, minimums }])
    const config = await configOf(existing)
    expect([config['max.message.bytes'], config['retention.ms']]).toEqual([String(2 * 1024 * 1024), '3600000'])
    // Already enough: left alone.
    await ensureTopics(admin, [{ topic: existing, partitions: 1, replicationFactor: 1, minimums: { 'max.message.bytes': 1000 } }])
    expect((await configOf(existing))['max.message.bytes']).toBe(String(2 * 1024 * 1024))
  })
})
