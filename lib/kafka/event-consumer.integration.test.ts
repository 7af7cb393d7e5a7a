import { randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { testServices } from '../../test/helpers/services.ts'
import { createLogger } from '../logger.ts'
import { createEventConsumer, type EventConsumer } from './event-consumer.ts'
import { createKafka } from './kafka-client.ts'

describe('event consumer on a real broker', () => {
  const logger = createLogger({ level: 'silent' })
  const kafka = createKafka({ brokers: testServices().kafkaBrokers, clientId: 'event-consumer-test', logger })
  const admin = kafka.admin()
  const producer = kafka.producer()
  const topic = `test.event-consumer.${randomUUID().slice(0, 8)}`
  let consumer: EventConsumer | undefined

  afterAll(async () => {
    await consumer?.stop()
    await producer.disconnect()
    await admin.deleteTopics({ topics: [topic] }).catch(() => {})
    await admin.disconnect()
  })

  it('hands each message over once: a stored batch is not fetched again', async () => {
    await admin.connect()
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })
    await producer.connect()
    const send = (from: number) =>
      producer.send({ topic, messages: Array.from({ length: 20 }, (_, i) => ({ key: 'k', value: `m${from + i}` })) })

    const handled: string[] = []
    consumer = createEventConsumer(kafka, { groupId: `test-${randomUUID()}`, topics: [topic], maxBytesPerPartition: 1024 * 1024, logger })
    await send(0)
    await consumer.start(async (batches, { commit }) => {
      for (const batch of batches) handled.push(...batch.messages.map((m) => m.value!.toString()))
      await commit()
    })
    await waitFor(() => handled.length >= 20)
    await send(20)
    await waitFor(() => handled.length >= 40)
    // Time for a redelivery to show, had there been one.
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect(handled).toEqual(Array.from({ length: 40 }, (_, i) => `m${i}`))
  })

  it('hands a fetch over whole (several partitions at once) and, after a failure, the same messages again in order', async () => {
    const multi = `${topic}.multi`
    await admin.createTopics({ topics: [{ topic: multi, numPartitions: 3 }], waitForLeaders: true })
    try {
      await producer.send({
        topic: multi,
        messages: Array.from({ length: 60 }, (_, i) => ({ partition: i % 3, key: `k${i % 3}`, value: `m${i}` })),
      })
      const fetches: Array<Array<{ partition: number; values: string[] }>> = []
      let failuresLeft = 1
      const committed: string[] = []
      const groupId = `test-${randomUUID()}`
      const c = createEventConsumer(kafka, { groupId, topics: [multi], maxBytesPerPartition: 1024 * 1024, logger, retryDelayMs: 50 })
      await c.start(async (batches, { commit }) => {
        fetches.push(batches.map((b) => ({ partition: b.partition, values: b.messages.map((m) => m.value!.toString()) })))
        if (failuresLeft-- > 0) throw new Error('store down')
        await commit()
        for (const b of batches) committed.push(...b.messages.map((m) => m.value!.toString()))
      })
      try {
        await waitFor(() => committed.length >= 60)
      } finally {
        await c.stop()
      }
      // The first fetch held every partition; after its failure each partition came again from its start.
      expect(fetches[0]!.map((f) => f.partition).sort()).toEqual([0, 1, 2])
      const byPartition = (p: number) => committed.filter((v) => Number(v.slice(1)) % 3 === p)
      for (const p of [0, 1, 2]) expect(byPartition(p)).toEqual(Array.from({ length: 20 }, (_, i) => `m${i * 3 + p}`))
      const offsets = await admin.fetchOffsets({ groupId, topics: [multi] })
      expect(offsets[0]!.partitions.map((p) => Number(p.offset)).sort()).toEqual([20, 20, 20])
    } finally {
      await admin.deleteTopics({ topics: [multi] }).catch(() => {})
    }
  })
})

async function waitFor(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
