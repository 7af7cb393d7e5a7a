/**
 * The services test/global-setup.ts provides really answer: a Kafka broker (metadata lists it,
 * on the advertised port), Postgres (SELECT 1 as the sluice role), Redis (PING).
 */
import { Kafka, logLevel } from 'kafkajs'
import { Redis } from 'ioredis'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { testServices } from '../test/helpers/services.ts'

const services = testServices()

describe('test services', () => {
  it('provides addresses for every service', () => {
    expect(services.kafkaBrokers.length).toBeGreaterThan(0)
    expect(services.databaseUrl).toMatch(/^postgres(ql)?:\/\//)
    expect(services.redisUrl).toMatch(/^rediss?:\/\//)
    if (services.clickhouseUrl !== null) expect(services.clickhouseUrl).toMatch(/^https?:\/\//)
  })

  it('Kafka: describeCluster lists one broker on the expected port', async () => {
    const admin = new Kafka({
      clientId: 'sluice-services-test',
      brokers: services.kafkaBrokers,
      logLevel: logLevel.NOTHING,
    }).admin()
    await admin.connect()
    try {
      const cluster = await admin.describeCluster()
      expect(cluster.brokers).toHaveLength(1)
      const expectedPort = Number(services.kafkaBrokers[0]?.split(':').pop())
      expect(cluster.brokers[0]?.port).toBe(expectedPort)
      expect(cluster.controller).not.toBeNull()
    } finally {
      await admin.disconnect()
    }
  })

  it('Postgres: SELECT 1', async () => {
    const client = new pg.Client({ connectionString: services.databaseUrl })
    await client.connect()
    try {
      const result = await client.query<{ one: number }>('SELECT 1 AS one')
      expect(result.rows).toEqual([{ one: 1 }])
    } finally {
      await client.end()
    }
  })

  const redis = new Redis(services.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  afterAll(() => {
    redis.disconnect()
  })

  it('Redis: PING answers PONG', async () => {
    await redis.connect()
    expect(await redis.ping()).toBe('PONG')
  })
})
