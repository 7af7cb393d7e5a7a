import { randomUUID } from 'node:crypto'
import { createEventCodec } from '../../lib/avro/event-codec.ts'
import type { Config } from '../../lib/config.ts'
import type { EventEnvelope } from '../../lib/event-types.ts'
import { createKafka } from '../../lib/kafka/kafka-client.ts'
import { createLogger } from '../../lib/logger.ts'

/**
 * The events in a test Sluice's events topic, decoded, read from the start by a fresh group until
 * every id of `expected` has arrived (or 30 s passed): what every processor will see.
 */
export async function topicEvents(config: Config, expected: readonly string[]): Promise<Map<string, EventEnvelope>> {
  const kafka = createKafka({ brokers: config.kafka.brokers, clientId: 'topic-events-test', logger: createLogger({ level: 'silent' }) })
  const consumer = kafka.consumer({ groupId: `test-topic-events-${randomUUID()}` })
  const codec = createEventCodec()
  const seen = new Map<string, EventEnvelope>()
  await consumer.connect()
  try {
    await consumer.subscribe({ topic: config.kafka.eventsTopic, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ message }) => {
        const event = await codec.decode(message.value!)
        seen.set(event.id, event)
      },
    })
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline && !expected.every((id) => seen.has(id))) await new Promise((r) => setTimeout(r, 100))
    return seen
  } finally {
    await consumer.disconnect()
  }
}
