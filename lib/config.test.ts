import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from './config.ts'

const MiB = 1024 * 1024
const minimal = {
  KAFKA_BROKERS: '127.0.0.1:19092',
  DATABASE_URL: 'postgres://sluice:sluice@127.0.0.1:55432/sluice',
  REDIS_URL: 'redis://127.0.0.1:56379',
}

function problems(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env)
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as ConfigError).problems
  }
  throw new Error('loadConfig accepted the environment')
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig(minimal)
    expect(c).toMatchObject({
      port: 8000,
      host: '0.0.0.0',
      logLevel: 'info',
      roles: ['ingest', 'processor', 'query'],
      adminToken: undefined,
      kafka: {
        brokers: ['127.0.0.1:19092'],
        clientId: 'sluice',
        schemaRegistryUrl: undefined,
        eventsTopic: 'sluice.events',
        deadLetterTopic: 'sluice.events.dlq',
        partitions: 6,
        replicationFactor: 1,
        produceTimeoutMs: 10_000,
      },
      postgres: { url: minimal.DATABASE_URL },
      redis: { url: minimal.REDIS_URL },
      clickhouse: { url: undefined, user: 'default', password: '', database: 'sluice' },
      limits: {
        maxBodyBytes: 5 * MiB,
        maxDecompressedBytes: 20 * MiB,
        maxBatchEvents: 10_000,
        maxEventBytes: 1 * MiB,
        rateLimitEventsPerSecond: 50_000,
      },
      shutdownTimeoutMs: 15_000,
    })
  })

  it('reads numbers, lists and roles from strings', () => {
    const c = loadConfig({
      ...minimal,
      PORT: '0',
      KAFKA_BROKERS: 'a:1, b:2,',
      SLUICE_ROLES: 'ingest, query',
      SLUICE_MAX_BODY_BYTES: '65536',
      SLUICE_RATE_LIMIT_EVENTS_PER_SECOND: '0',
      CLICKHOUSE_URL: '',
    })
    expect(c.port).toBe(0)
    expect(c.kafka.brokers).toEqual(['a:1', 'b:2'])
    expect(c.roles).toEqual(['ingest', 'query'])
    expect(c.limits.maxBodyBytes).toBe(65536)
    expect(c.limits.rateLimitEventsPerSecond).toBe(0)
    expect(c.clickhouse.url).toBeUndefined()
    expect(loadConfig(minimal, { roles: ['processor'] }).roles).toEqual(['processor'])
  })

  it('names every missing variable at once', () => {
    expect(problems({})).toEqual([
      'KAFKA_BROKERS is required (host:port[,host:port...])',
      'DATABASE_URL is required (postgres: or postgresql: URL)',
      'REDIS_URL is required (redis: or rediss: URL)',
    ])
  })

  it('names each bad variable with what it must be', () => {
    const found = problems({
      ...minimal,
      PORT: 'abc',
      DATABASE_URL: 'http://x',
      REDIS_URL: 'not a url',
      KAFKA_BROKERS: 'localhost',
      SLUICE_ADMIN_TOKEN: 'short',
      SLUICE_ROLES: 'ingest,bogus',
      SLUICE_MAX_BODY_BYTES: '-1',
      CLICKHOUSE_DATABASE: 'drop table;',
      LOG_LEVEL: 'loud',
    })
    const byVariable = Object.fromEntries(found.map((p) => [p.split(' ')[0]!.split('.')[0]!, p]))
    expect(Object.keys(byVariable).sort()).toEqual(
      [
        'PORT',
        'DATABASE_URL',
        'REDIS_URL',
        'KAFKA_BROKERS',
        'SLUICE_ADMIN_TOKEN',
        'SLUICE_ROLES',
        'SLUICE_MAX_BODY_BYTES',
        'CLICKHOUSE_DATABASE',
        'LOG_LEVEL',
      ].sort(),
    )
    expect(byVariable.PORT).toMatch(/^PORT .*number/)
    expect(byVariable.DATABASE_URL).toBe('DATABASE_URL must be a postgres: or postgresql: URL')
    expect(byVariable.REDIS_URL).toBe('REDIS_URL must be a redis: or rediss: URL')
    expect(byVariable.KAFKA_BROKERS).toBe('KAFKA_BROKERS must be host:port[,host:port...]')
    expect(byVariable.SLUICE_ADMIN_TOKEN).toBe('SLUICE_ADMIN_TOKEN must be at least 16 characters')
    expect(byVariable.CLICKHOUSE_DATABASE).toBe('CLICKHOUSE_DATABASE must be a plain identifier')
  })

  it('reads SLUICE_CORS_ORIGINS as a comma list of origins, none by default', () => {
    expect(loadConfig(minimal).corsOrigins).toEqual([])
    expect(loadConfig({ ...minimal, SLUICE_CORS_ORIGINS: 'https://a.example, http://localhost:3000' }).corsOrigins).toEqual([
      'https://a.example',
      'http://localhost:3000',
    ])
    expect(problems({ ...minimal, SLUICE_CORS_ORIGINS: 'https://a.example/path' })[0]).toMatch(/^SLUICE_CORS_ORIGINS must be a comma list of origins/)
    expect(problems({ ...minimal, SLUICE_CORS_ORIGINS: '*' })[0]).toMatch(/^SLUICE_CORS_ORIGINS /)
  })

  it('puts every problem in the error message, one a line', () => {
    expect(() => loadConfig({ ...minimal, PORT: '99999' })).toThrow(/^Invalid configuration:\n {2}- PORT /)
  })

  it('returns a deeply frozen config', () => {
    const c = loadConfig(minimal)
    expect(Object.isFrozen(c)).toBe(true)
    expect(Object.isFrozen(c.kafka)).toBe(true)
    expect(Object.isFrozen(c.kafka.brokers)).toBe(true)
    expect(Object.isFrozen(c.limits)).toBe(true)
    expect(() => {
      ;(c.limits as { maxBodyBytes: number }).maxBodyBytes = 1
    }).toThrow(TypeError)
    expect(c.limits.maxBodyBytes).toBe(5 * MiB)
  })
})
