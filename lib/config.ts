import { availableParallelism } from 'node:os'
import { z } from 'zod'

/**
 * The whole configuration of Sluice, read from the environment once (in server.ts or a script),
 * frozen and passed down. Nothing below that line reads `process.env`.
 */

const MiB = 1024 * 1024

const brokerList = z
  .string({ error: 'is required (host:port[,host:port...])' })
  .min(1, 'is required (host:port[,host:port...])')
  .transform((s) => s.split(',').map((b) => b.trim()).filter(Boolean))
  .refine((list) => list.length > 0 && list.every((b) => /^[^\s:]+:\d+$/.test(b)), 'must be host:port[,host:port...]')

const url = (protocols: string[]) =>
  z
    .string({ error: `is required (${protocols.join(' or ')} URL)` })
    .refine((s) => {
      try {
        return protocols.includes(new URL(s).protocol)
      } catch {
        return false
      }
    }, `must be a ${protocols.join(' or ')} URL`)

const optionalUrl = (protocols: string[]) =>
  z.preprocess((v) => (v === '' ? undefined : v), url(protocols).optional())

function isOrigin(s: string): boolean {
  try {
    const u = new URL(s)
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === s
  } catch {
    return false
  }
}

const positiveInt = (def: number) => z.coerce.number().int().positive().default(def)
const flag = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', ''])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1')

export const ROLES = ['ingest', 'processor', 'query'] as const
export type Role = (typeof ROLES)[number]

export const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8000),
  HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SLUICE_ROLES: z
    .string()
    .default('ingest,processor,query')
    .transform((s) => s.split(',').map((r) => r.trim()).filter(Boolean))
    .pipe(z.array(z.enum(ROLES)).min(1)),
  SLUICE_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  SLUICE_CORS_ORIGINS: z
    .string()
    .default('')
    .transform((s) => s.split(',').map((o) => o.trim()).filter(Boolean))
    .refine((list) => list.every(isOrigin), 'must be a comma list of origins (scheme://host[:port], no path), e.g. https://console.example.com'),

  KAFKA_BROKERS: brokerList,
  KAFKA_CLIENT_ID: z.string().default('sluice'),
  SCHEMA_REGISTRY_URL: optionalUrl(['http:', 'https:']),
  SLUICE_TOPIC_EVENTS: z.string().min(1).default('sluice.events'),
  SLUICE_TOPIC_DEAD_LETTER: z.string().min(1).default('sluice.events.dlq'),
  SLUICE_TOPIC_PARTITIONS: positiveInt(6),
  SLUICE_TOPIC_REPLICATION: positiveInt(1),
  SLUICE_PRODUCE_TIMEOUT_MS: positiveInt(10_000),

  DATABASE_URL: url(['postgres:', 'postgresql:']),
  REDIS_URL: url(['redis:', 'rediss:']),
  CLICKHOUSE_URL: optionalUrl(['http:', 'https:']),
  CLICKHOUSE_USER: z.string().default('default'),
  CLICKHOUSE_PASSWORD: z.string().default(''),
  CLICKHOUSE_DATABASE: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a plain identifier').default('sluice'),
  SLUICE_CHDB_PATH: z.string().default('.sluice/chdb'),
  SLUICE_CHDB_INSERT_LANES: z.coerce.number().int().min(0).max(8).default(0),

  SLUICE_MAX_BODY_BYTES: positiveInt(5 * MiB),
  SLUICE_MAX_DECOMPRESSED_BYTES: positiveInt(20 * MiB),
  SLUICE_MAX_BATCH_EVENTS: positiveInt(10_000),
  SLUICE_MAX_EVENT_BYTES: positiveInt(1 * MiB),
  SLUICE_RATE_LIMIT_EVENTS_PER_SECOND: z.coerce.number().int().min(0).default(50_000),
  // Default: one per core. Only a process running the ingest role alone forks them (server.ts).
  SLUICE_INGEST_WORKERS: z.coerce.number().int().min(1).max(64).default(() => availableParallelism()),

  SLUICE_RUNS_FUNNEL_GROUP: z.string().min(1).default('sluice-runs-funnel'),
  SLUICE_LOGS_GROUP: z.string().min(1).default('sluice-logs'),
  SLUICE_REACTIONS_GROUP: z.string().min(1).default('sluice-reactions'),
  SLUICE_LOG_RETENTION_DAYS: positiveInt(30),
  SLUICE_WEBHOOK_ALLOW_PRIVATE: flag(false),
  SLUICE_WEBHOOK_TIMEOUT_MS: positiveInt(10_000),
  SLUICE_WEBHOOK_MAX_ATTEMPTS: positiveInt(8),
  SLUICE_DISPATCHER_POLL_MS: positiveInt(500),
  SLUICE_WEBHOOK_BACKOFF_BASE_MS: positiveInt(30_000),
  SLUICE_WEBHOOK_BACKOFF_MAX_MS: positiveInt(3_600_000),
  SLUICE_PROCESSOR_MAX_BATCH_BYTES: positiveInt(4 * MiB),
  SLUICE_PROCESSOR_MAX_FETCH_BYTES: positiveInt(8 * MiB),
  SLUICE_PROCESSOR_RUN_CACHE: positiveInt(50_000),
  SLUICE_PROCESSOR_STALL_SECONDS: positiveInt(60),
  SLUICE_PROCESSOR_THREADS: flag(true),
  SLUICE_CONSUMER_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6_000).default(30_000),
  SLUICE_SHUTDOWN_TIMEOUT_MS: positiveInt(15_000),
})

export type Env = z.input<typeof envSchema>

/** Every environment variable Sluice reads (docker-compose.yml and the Dockerfile set only these). */
export const ENV_VARS: readonly string[] = Object.freeze(Object.keys(envSchema.shape))

export interface Config {
  port: number
  host: string
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL']
  roles: readonly Role[]
  adminToken: string | undefined
  /** Origins a browser may call the API from (besides /ingest and POST /api/logs, open to any). */
  corsOrigins: readonly string[]
  kafka: {
    brokers: readonly string[]
    clientId: string
    schemaRegistryUrl: string | undefined
    eventsTopic: string
    deadLetterTopic: string
    partitions: number
    replicationFactor: number
    produceTimeoutMs: number
  }
  postgres: { url: string }
  redis: { url: string }
  clickhouse: {
    url: string | undefined
    user: string
    password: string
    database: string
    chdbPath: string
    /** Embedded engine only: sessions of their own for inserts (0: inserts share the query session). */
    insertLanes: number
  }
  limits: {
    maxBodyBytes: number
    maxDecompressedBytes: number
    maxBatchEvents: number
    maxEventBytes: number
    rateLimitEventsPerSecond: number
  }
  /** Processes (node:cluster workers) serving an ingest-only role; see ingest/ingest-workers.ts. */
  ingestWorkers: number
  processor: {
    runsFunnelGroup: string
    logsGroup: string
    reactionsGroup: string
    /** Bytes one fetch takes per partition at most. */
    maxBatchBytes: number
    /** Bytes one fetch takes at most: the largest flush a processor stores at once. */
    maxFetchBytes: number
    /** Runs whose stored state the runs-funnel processor keeps in memory. */
    runCacheSize: number
    /** A group with waiting messages and no commit for this long is reported `stalled` by /ready. */
    stallAfterMs: number
    /** How long the group waits for a silent member (a killed process) before rebalancing. */
    sessionTimeoutMs: number
    /** Processors that need no embedded ClickHouse (reactions) run in a worker thread of their own. */
    threads: boolean
  }
  logs: { retentionDays: number }
  webhooks: {
    /** Allow destinations on loopback, private, link-local and metadata addresses. */
    allowPrivate: boolean
    timeoutMs: number
    maxAttempts: number
    pollIntervalMs: number
    /** Retry n waits a random time in [0, min(max, base·2^(n-1))] (full jitter). */
    backoffBaseMs: number
    backoffMaxMs: number
  }
  shutdownTimeoutMs: number
}

export class ConfigError extends Error {
  readonly problems: string[]
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

/** Parses the environment into a frozen Config, or throws a ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined>, overrides: Partial<Pick<Config, 'roles'>> = {}): Config {
  const parsed = envSchema.safeParse(env)
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join('.') || '(environment)'} ${i.message}`),
    )
  }
  const e = parsed.data
  const config: Config = {
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    roles: overrides.roles ?? e.SLUICE_ROLES,
    adminToken: e.SLUICE_ADMIN_TOKEN,
    corsOrigins: e.SLUICE_CORS_ORIGINS,
    kafka: {
      brokers: e.KAFKA_BROKERS,
      clientId: e.KAFKA_CLIENT_ID,
      schemaRegistryUrl: e.SCHEMA_REGISTRY_URL,
      eventsTopic: e.SLUICE_TOPIC_EVENTS,
      deadLetterTopic: e.SLUICE_TOPIC_DEAD_LETTER,
      partitions: e.SLUICE_TOPIC_PARTITIONS,
      replicationFactor: e.SLUICE_TOPIC_REPLICATION,
      produceTimeoutMs: e.SLUICE_PRODUCE_TIMEOUT_MS,
    },
    postgres: { url: e.DATABASE_URL },
    redis: { url: e.REDIS_URL },
    clickhouse: {
      url: e.CLICKHOUSE_URL,
      user: e.CLICKHOUSE_USER,
      password: e.CLICKHOUSE_PASSWORD,
      database: e.CLICKHOUSE_DATABASE,
      chdbPath: e.SLUICE_CHDB_PATH,
      insertLanes: e.SLUICE_CHDB_INSERT_LANES,
    },
    limits: {
      maxBodyBytes: e.SLUICE_MAX_BODY_BYTES,
      maxDecompressedBytes: e.SLUICE_MAX_DECOMPRESSED_BYTES,
      maxBatchEvents: e.SLUICE_MAX_BATCH_EVENTS,
      maxEventBytes: e.SLUICE_MAX_EVENT_BYTES,
      rateLimitEventsPerSecond: e.SLUICE_RATE_LIMIT_EVENTS_PER_SECOND,
    },
    ingestWorkers: e.SLUICE_INGEST_WORKERS,
    processor: {
      runsFunnelGroup: e.SLUICE_RUNS_FUNNEL_GROUP,
      logsGroup: e.SLUICE_LOGS_GROUP,
      reactionsGroup: e.SLUICE_REACTIONS_GROUP,
      maxBatchBytes: e.SLUICE_PROCESSOR_MAX_BATCH_BYTES,
      maxFetchBytes: e.SLUICE_PROCESSOR_MAX_FETCH_BYTES,
      runCacheSize: e.SLUICE_PROCESSOR_RUN_CACHE,
      stallAfterMs: e.SLUICE_PROCESSOR_STALL_SECONDS * 1000,
      sessionTimeoutMs: e.SLUICE_CONSUMER_SESSION_TIMEOUT_MS,
      threads: e.SLUICE_PROCESSOR_THREADS,
    },
    logs: { retentionDays: e.SLUICE_LOG_RETENTION_DAYS },
    webhooks: {
      allowPrivate: e.SLUICE_WEBHOOK_ALLOW_PRIVATE,
      timeoutMs: e.SLUICE_WEBHOOK_TIMEOUT_MS,
      maxAttempts: e.SLUICE_WEBHOOK_MAX_ATTEMPTS,
      pollIntervalMs: e.SLUICE_DISPATCHER_POLL_MS,
      backoffBaseMs: e.SLUICE_WEBHOOK_BACKOFF_BASE_MS,
      backoffMaxMs: e.SLUICE_WEBHOOK_BACKOFF_MAX_MS,
    },
    shutdownTimeoutMs: e.SLUICE_SHUTDOWN_TIMEOUT_MS,
  }
  return deepFreeze(config)
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}
