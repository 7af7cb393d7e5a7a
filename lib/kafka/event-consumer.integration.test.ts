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
    await consumer.start(async (batch) => {
      handled.push(...batch.messages.map((m) => m.value!.toString()))
    })
    await waitFor(() => handled.length >= 20)
    await send(20)
    await waitFor(() => handled.length >= 40)
    // Time for a redelivery to show, had there been one.
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect(handled).toEqual(Array.from({ length: 40 }, (_, i) => `m${i}`))
  })
})

async function waitFor(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
