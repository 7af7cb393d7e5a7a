import { CompressionTypes, Partitioners, type Admin, type Kafka, type PartitionMetadata, type Producer } from 'kafkajs'
import { ConfigResourceTypes } from './kafka-enums.ts'
import { produceRounds, type PartitionedMessage } from './produce-rounds.ts'

export interface OutgoingMessage {
  key: string
  value: Buffer
  headers?: Record<string, string>
}

/** The slice of a Kafka producer Sluice needs: one acknowledged send of many messages. */
export interface EventProducer {
  connect(): Promise<void>
  /**
   * Resolves once every message is acknowledged by all in-sync replicas; rejects otherwise. A send
   * larger than the broker takes in one request goes as several (see produce-rounds.ts): when one
   * of them fails, the ones before it are in the topic, so callers must treat a rejection as
   * "resend everything" and rely on event ids to count each event once.
   */
  send(topic: string, messages: readonly OutgoingMessage[]): Promise<void>
  disconnect(): Promise<void>
}

// The broker's default message.max.bytes, less a little: used when the topic's limit cannot be read.
const FALLBACK_MAX_BATCH_BYTES = 1_000_000
const TOPIC_INFO_TTL_MS = 60_000

interface TopicInfo {
  partitions: PartitionMetadata[]
  maxBatchBytes: number
  readAt: number
}

export function createEventProducer(kafka: Kafka, options: { timeoutMs: number }): EventProducer {
  const producer: Producer = kafka.producer({
    allowAutoTopicCreation: false,
    // The broker acks only once the batch is on every in-sync replica; retries are short so a
    // dead broker turns into a 503 quickly instead of holding the HTTP request.
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
  })
  // Partitions are chosen here, not by kafkajs, because the cut into requests is per partition.
  // Java-compatible murmur2 on the key: the same run lands on the same partition as with any client.
  const partitioner = Partitioners.DefaultPartitioner()
  const admin: Admin = kafka.admin()
  const topics = new Map<string, TopicInfo>()
  let connected: Promise<void> | null = null

  async function topicInfo(topic: string): Promise<TopicInfo> {
    const known = topics.get(topic)
    if (known && Date.now() - known.readAt < TOPIC_INFO_TTL_MS) return known
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] })
    const partitions = metadata.topics[0]?.partitions ?? []
    if (partitions.length === 0) throw new Error(`topic ${topic} has no partitions`)
    const info = { partitions: [...partitions].sort((a, b) => a.partitionId - b.partitionId), maxBatchBytes: await maxMessageBytes(admin, topic), readAt: Date.now() }
    topics.set(topic, info)
    return info
  }

  return {
    connect() {
      connected ??= Promise.all([producer.connect(), admin.connect()]).then(
        () => undefined,
        (err: unknown) => {
          connected = null
          throw err
        },
      )
      return connected
    },
    async send(topic, messages) {
      await this.connect()
      const info = await topicInfo(topic)
      // A run's events share a key, and a batch holds whole runs: hash each key once per send.
      const partitionOf = new Map<string, number>()
      const partitioned: PartitionedMessage[] = messages.map((m) => {
        let partition = partitionOf.get(m.key)
        if (partition === undefined) {
          partition = partitioner({ topic, partitionMetadata: info.partitions, message: { key: m.key, value: m.value } })
          partitionOf.set(m.key, partition)
        }
        return { partition, key: m.key, value: m.value, headers: m.headers }
      })
      try {
        // TRICKY: one round after another, never in parallel: a partition's parts must reach the
        // broker in the order of the request, and a failed round must stop the ones after it.
        for (const round of produceRounds(partitioned, info.maxBatchBytes)) {
          await producer.send({ topic, acks: -1, timeout: options.timeoutMs, compression: CompressionTypes.None, messages: round })
        }
      } catch (err) {
        topics.delete(topic) // partitions or limits may have changed: read them again next time
        throw err
      }
    },
    async disconnect() {
      connected = null
      await Promise.all([producer.disconnect(), admin.disconnect()])
    },
  }
}

/** The topic's effective `max.message.bytes` (its own setting, else the broker's default). */
async function maxMessageBytes(admin: Admin, topic: string): Promise<number> {
  try {
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['max.message.bytes'] }],
    })
    const value = Number(described.resources[0]?.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue)
    return Number.isFinite(value) && value > 0 ? value : FALLBACK_MAX_BATCH_BYTES
  } catch {
    return FALLBACK_MAX_BATCH_BYTES
  }
}
