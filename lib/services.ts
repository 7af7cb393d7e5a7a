import type { Admin, Kafka } from 'kafkajs'
import { createEventCodec, type EventCodec } from './avro/event-codec.ts'
import { createKeyResolver, type KeyResolver } from './auth/key-resolver.ts'
import { listenForKeyRevocations, type KeyRevocationListener } from './auth/key-revocation-listener.ts'
import { clickhouseTables, createClickhouseClient, type ClickHouseClient, type ClickhouseTables } from './clickhouse.ts'
import type { Config } from './config.ts'
import { createKafka } from './kafka/kafka-client.ts'
import { createEventProducer, type EventProducer } from './kafka/event-producer.ts'
import { ensureTopics, topicMaxMessageBytes } from './kafka/topics.ts'
import type { Logger } from './logger.ts'
import type { Metrics } from './metrics.ts'
import { runMigrations } from './migrate.ts'
import { createPgPool, type PgPool } from './postgres.ts'
import { createRedis, type Redis } from './redis.ts'

/** The connections one Sluice process holds, made once and handed to every role it runs. */
export interface Services {
  config: Config
  logger: Logger
  metrics: Metrics
  kafka: Kafka
  admin: Admin
  producer: EventProducer
  /** The stores this process's roles use; the others throw when touched. */
  uses: ReadonlySet<Dependency>
  pg: PgPool
  redis: Redis
  clickhouse: ClickHouseClient
  tables: ClickhouseTables
  codec: EventCodec
  resolveKey: KeyResolver
  /** Clears the key cache when any process revokes a key (absent without Postgres). */
  keyRevocations: KeyRevocationListener | undefined
}

export type Dependency = 'kafka' | 'postgres' | 'redis' | 'clickhouse'

/** Which stores each role talks to. An ingest-only process never opens ClickHouse (or chdb's data directory). */
export function dependenciesOf(roles: Config['roles']): ReadonlySet<Dependency> {
  const deps = new Set<Dependency>(['kafka'])
  if (roles.includes('ingest')) deps.add('postgres').add('redis')
  if (roles.includes('query')) deps.add('postgres').add('clickhouse')
  if (roles.includes('processor')) deps.add('clickhouse').add('postgres').add('redis')
  return deps
}

export interface ConnectOptions {
  /** Connect only to these stores (and Kafka), whatever the roles. */
  only?: readonly Dependency[]
  /**
   * Create the topics, apply migrations and listen for key revocations (default). A worker thread
   * of a process that did it already passes false.
   */
  prepare?: boolean
}

/**
 * Connects to what the configured roles need (see `dependenciesOf`), applies migrations and creates
 * the topics. Throws with the name of the dependency that did not answer. Using a store the roles
 * do not need throws at once rather than connecting behind the caller's back.
 */
export async function connectServices(
  config: Config,
  base: { logger: Logger; metrics: Metrics },
  options: ConnectOptions = {},
): Promise<Services> {
  const { logger } = base
  const uses = options.only ? new Set<Dependency>(['kafka', ...options.only]) : dependenciesOf(config.roles)
  const prepare = options.prepare ?? true
  const kafka = createKafka({ brokers: config.kafka.brokers, clientId: config.kafka.clientId, logger })
  const admin = kafka.admin()
  const producer = createEventProducer(kafka, { timeoutMs: config.kafka.produceTimeoutMs })
  const pg = uses.has('postgres') ? createPgPool({ url: config.postgres.url }) : undefined
  const redis = uses.has('redis') ? createRedis({ url: config.redis.url, logger }) : undefined
  const clickhouse = uses.has('clickhouse') ? createClickhouseClient(config.clickhouse) : undefined

  await step('kafka', async () => {
    await admin.connect()
    if (!prepare) return producer.connect()
    // Both topics hold whole events (the dead-letter topic the original message): room for the largest.
    const minimums = { 'max.message.bytes': topicMaxMessageBytes(config.limits.maxEventBytes) }
    await ensureTopics(admin, [
      { topic: config.kafka.eventsTopic, partitions: config.kafka.partitions, replicationFactor: config.kafka.replicationFactor, minimums },
      { topic: config.kafka.deadLetterTopic, partitions: 1, replicationFactor: config.kafka.replicationFactor, minimums },
    ])
    await producer.connect()
  })
  if (pg) await step('postgres', () => pg.query('SELECT 1'))
  if (redis) await step('redis', () => redis.connect())
  if (clickhouse) {
    await step('clickhouse', () =>
      clickhouse.ping().then((r) => {
        if (!r.success) throw r.error
      }),
    )
  }
  if (prepare) await step('migrations', () => runMigrations({ pg, clickhouse, clickhouseDatabase: config.clickhouse.database, logger }))

  const missing = (name: Dependency): never => {
    throw new Error(`The roles ${config.roles.join(',')} do not use ${name}`)
  }
  const resolveKey: KeyResolver = pg
    ? createKeyResolver({ pg, onTouchError: (err) => logger.warn({ err }, 'could not stamp last_used_at') })
    : Object.assign(async () => missing('postgres'), { forget() {} })
  // TRICKY: the TTL of the key cache (2 s) is the guarantee; the notification makes it near instant.
  const keyRevocations = pg && prepare
    ? await step('postgres (key revocations)', () => listenForKeyRevocations({ url: config.postgres.url, logger, onRevoked: () => resolveKey.forget() }))
    : undefined
  return {
    config,
    logger,
    metrics: base.metrics,
    kafka,
    admin,
    producer,
    uses,
    get pg() {
      return pg ?? missing('postgres')
    },
    get redis() {
      return redis ?? missing('redis')
    },
    get clickhouse() {
      return clickhouse ?? missing('clickhouse')
    },
    tables: clickhouseTables(config.clickhouse.database),
    codec: createEventCodec({ schemaRegistryUrl: config.kafka.schemaRegistryUrl }),
    resolveKey,
    keyRevocations,
  }

  async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      throw new Error(`Could not reach ${name}: ${(err as Error).message}`, { cause: err })
    }
  }
}

/** Closes the connections in the written order: Redis, Postgres, ClickHouse, then Kafka. */
export async function closeServices(s: Services): Promise<void> {
  const steps: Array<[string, () => Promise<unknown>]> = [
    ['redis', () => (s.uses.has('redis') ? s.redis.quit() : Promise.resolve())],
    ['postgres key revocation listener', () => s.keyRevocations?.close() ?? Promise.resolve()],
    ['postgres', () => (s.uses.has('postgres') ? s.pg.end() : Promise.resolve())],
    ['clickhouse', () => (s.uses.has('clickhouse') ? s.clickhouse.close() : Promise.resolve())],
    ['kafka producer', () => s.producer.disconnect()],
    ['kafka admin', () => s.admin.disconnect()],
  ]
  for (const [name, close] of steps) {
    try {
      await close()
      s.logger.info({ step: name }, 'shutdown: closed')
    } catch (err) {
      s.logger.warn({ err, step: name }, 'shutdown: close failed')
    }
  }
}
