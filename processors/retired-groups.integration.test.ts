import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testServices } from '../test/helpers/services.ts'
import { createKafka } from '../lib/kafka/kafka-client.ts'
import { createLogger } from '../lib/logger.ts'
import { adoptRetiredGroups } from './retired-groups.ts'

describe('taking over a retired consumer group on a real broker', () => {
  const logger = createLogger({ level: 'silent' })
  const kafka = createKafka({ brokers: testServices().kafkaBrokers, clientId: 'retired-groups-test', logger })
  const admin = kafka.admin()
  const topic = `test.retired-groups.${randomUUID().slice(0, 8)}`
  const id = () => `test-retired-${randomUUID().slice(0, 8)}`

  async function committed(groupId: string): Promise<number[]> {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] })
    return entry!.partitions.sort((a, b) => a.partition - b.partition).map((p) => Number(p.offset))
  }
  async function commit(groupId: string, offsets: Array<number | null>): Promise<void> {
    const partitions = offsets.flatMap((offset, partition) => (offset === null ? [] : [{ partition, offset: String(offset) }]))
    await admin.setOffsets({ groupId, topic, partitions })
  }

  beforeAll(async () => {
    await admin.connect()
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true })
    const producer = kafka.producer()
    await producer.connect()
    for (let partition = 0; partition < 4; partition++) {
      await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ partition, value: `m${i}` })) })
    }
    await producer.disconnect()
  })
  afterAll(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => {})
    await admin.disconnect()
  })

  it('moves the group back where the retired one was behind, from the start where it never committed, then deletes it', async () => {
    const [retired, into] = [id(), id()]
    // (kafkajs sets a group's offsets through a consumer that waits for one fetch: ~5 s each.)
    await Promise.all([commit(retired, [2, null, 9, 4]), commit(into, [8, 5, 3, null])])
    await adoptRetiredGroups(admin, topic, [{ retired, into }], logger)
    // p0: back to the retired 2; p1: the retired group never committed, so from the start; p2: the
    // retired group was ahead, left; p3: the group never committed, so it starts from the start anyway.
    expect(await committed(into)).toEqual([2, 0, 3, -1])
    expect(await committed(retired)).toEqual([-1, -1, -1, -1])

    // Once only: a second start finds nothing to take over.
    await commit(into, [10, 10, 10, 10])
    await adoptRetiredGroups(admin, topic, [{ retired, into }], logger)
    expect(await committed(into)).toEqual([10, 10, 10, 10])
  })

  it('leaves both groups alone while an older processor still runs the retired group', async () => {
    const [retired, into] = [id(), id()]
    await Promise.all([commit(retired, [1, 1, 1, 1]), commit(into, [5, 5, 5, 5])])
    const older = kafka.consumer({ groupId: retired })
    await older.connect()
    await older.subscribe({ topic })
    const joined = new Promise<void>((resolve) => older.on(older.events.GROUP_JOIN, () => resolve()))
    await older.run({ autoCommit: false, eachMessage: async () => {} })
    await joined
    try {
      await adoptRetiredGroups(admin, topic, [{ retired, into }], logger)
      expect(await committed(into)).toEqual([5, 5, 5, 5])
      expect(await committed(retired)).toEqual([1, 1, 1, 1])
    } finally {
      await older.disconnect()
    }
  })
})
