import { CompressionTypes, Partitioners, type Kafka, type Producer } from 'kafkajs'

export interface OutgoingMessage {
  key: string
  value: Buffer
  headers?: Record<string, string>
}

/** The slice of a Kafka producer Sluice needs: one acknowledged send of many messages. */
export interface EventProducer {
  connect(): Promise<void>
  /** Resolves once every message is acknowledged by all in-sync replicas; rejects otherwise. */
  send(topic: string, messages: readonly OutgoingMessage[]): Promise<void>
  disconnect(): Promise<void>
}

export function createEventProducer(kafka: Kafka, options: { timeoutMs: number }): EventProducer {
  const producer: Producer = kafka.producer({
    allowAutoTopicCreation: false,
    // Java-compatible murmur2 on the key: the same run lands on the same partition as with any client.
    createPartitioner: Partitioners.DefaultPartitioner,
    // The broker acks only once the batch is on every in-sync replica; retries are short so a
    // dead broker turns into a 503 quickly instead of holding the HTTP request.
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
  })
  let connected: Promise<void> | null = null
  return {
    connect() {
      connected ??= producer.connect().catch((err: unknown) => {
        connected = null
        throw err
      })
      return connected
    },
    async send(topic, messages) {
      await this.connect()
      await producer.send({
        topic,
        acks: -1,
        timeout: options.timeoutMs,
        compression: CompressionTypes.None,
        messages: messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
      })
    },
    async disconnect() {
      connected = null
      await producer.disconnect()
    },
  }
}
