/**
 * Vitest global setup: finds or starts Kafka, Postgres, Redis (and ClickHouse when possible) once
 * per run and provides their addresses to the tests (read them with testServices() from
 * test/helpers/services.ts).
 *
 * For each service, in order:
 *  1. the environment: KAFKA_BROKERS (comma-separated), DATABASE_URL, REDIS_URL, CLICKHOUSE_URL
 *     are used as they are;
 *  2. Docker, if it answers: testcontainers (Redpanda, Postgres, Redis, ClickHouse), stopped in
 *     the teardown;
 *  3. otherwise the local services of scripts/services-up.sh (real Kafka, Postgres and Redis
 *     processes, no Docker), left running after the tests. ClickHouse is then null: tests use
 *     embedded chdb.
 * SLUICE_TEST_SERVICES=local skips the Docker check; SLUICE_TEST_SERVICES=docker insists on it.
 */
import { execFile } from 'node:child_process'
import type { StartedTestContainer } from 'testcontainers'
import type { TestProject } from 'vitest/node'
import { ensureServices } from '../scripts/local-services.ts'
import type { TestServices } from './helpers/services.ts'

const REDPANDA_IMAGE = 'docker.redpanda.com/redpandadata/redpanda:v24.2.7'
const POSTGRES_IMAGE = 'postgres:15-alpine'
const REDIS_IMAGE = 'redis:7-alpine'
const CLICKHOUSE_IMAGE = 'clickhouse/clickhouse-server:24.8-alpine'

type Teardown = () => Promise<void>

interface GivenServices {
  kafkaBrokers?: string
  databaseUrl?: string
  redisUrl?: string
  clickhouseUrl?: string
}

export default async function setup(project: TestProject): Promise<Teardown> {
  const env = process.env
  const given: GivenServices = {
    kafkaBrokers: nonEmpty(env.KAFKA_BROKERS),
    databaseUrl: nonEmpty(env.DATABASE_URL),
    redisUrl: nonEmpty(env.REDIS_URL),
    clickhouseUrl: nonEmpty(env.CLICKHOUSE_URL),
  }
  const mode = nonEmpty(env.SLUICE_TEST_SERVICES)
  if (mode && mode !== 'local' && mode !== 'docker') {
    throw new Error(`SLUICE_TEST_SERVICES must be 'local' or 'docker', not '${mode}'`)
  }

  let services: TestServices
  let teardown: Teardown = async () => {}
  const allGiven = Object.values(given).every((v) => v !== undefined)
  if (allGiven) {
    services = fromGiven(given)
  } else if (mode === 'docker' || (mode !== 'local' && (await dockerAnswers()))) {
    const started = await startContainers(given)
    services = started.services
    teardown = started.stop
  } else {
    const urls = await ensureServices(env)
    services = {
      kafkaBrokers: splitBrokers(urls.kafkaBrokers),
      databaseUrl: urls.databaseUrl,
      redisUrl: urls.redisUrl,
      clickhouseUrl: given.clickhouseUrl ?? null,
    }
  }
  project.provide('services', services)
  return teardown
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim()
  return trimmed ? trimmed : undefined
}

function splitBrokers(brokers: string): string[] {
  return brokers
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean)
}

function fromGiven(given: GivenServices): TestServices {
  if (!given.kafkaBrokers || !given.databaseUrl || !given.redisUrl) throw new Error('unreachable')
  return {
    kafkaBrokers: splitBrokers(given.kafkaBrokers),
    databaseUrl: given.databaseUrl,
    redisUrl: given.redisUrl,
    clickhouseUrl: given.clickhouseUrl ?? null,
  }
}

/** True if a Docker daemon answers within 3 s (`docker info`, else testcontainers' own probe). */
async function dockerAnswers(): Promise<boolean> {
  const cli = await new Promise<'yes' | 'no' | 'no-cli'>((resolve) => {
    execFile('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 3000 }, (err) => {
      if (!err) resolve('yes')
      else resolve((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no-cli' : 'no')
    })
  })
  if (cli !== 'no-cli') return cli === 'yes'
  // No docker CLI: a daemon may still be reachable (DOCKER_HOST, a socket); ask testcontainers.
  const { getContainerRuntimeClient } = await import('testcontainers')
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), 3000)
  })
  const probe = getContainerRuntimeClient().then(
    () => true,
    () => false,
  )
  try {
    return await Promise.race([probe, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Starts a container for each service not given in the environment, in parallel. */
async function startContainers(given: GivenServices): Promise<{ services: TestServices; stop: Teardown }> {
  const [{ PostgreSqlContainer }, { RedisContainer }, { ClickHouseContainer }] = await Promise.all([
    import('@testcontainers/postgresql'),
    import('@testcontainers/redis'),
    import('@testcontainers/clickhouse'),
  ])
  const started: StartedTestContainer[] = []
  const track = async <C extends StartedTestContainer>(starting: Promise<C>): Promise<C> => {
    const container = await starting
    started.push(container)
    return container
  }
  const stop: Teardown = async () => {
    await Promise.allSettled(started.map((c) => c.stop()))
  }

  const results = await Promise.allSettled([
    given.kafkaBrokers
      ? Promise.resolve(splitBrokers(given.kafkaBrokers))
      : startRedpanda(track).then((broker) => [broker]),
    given.databaseUrl
      ? Promise.resolve(given.databaseUrl)
      : track(
          new PostgreSqlContainer(POSTGRES_IMAGE)
            .withDatabase('sluice')
            .withUsername('sluice')
            .withPassword('sluice')
            // Throwaway data: no fsync. Room for many pools, like the local cluster.
            .withCommand(['postgres', '-c', 'max_connections=300', '-c', 'fsync=off'])
            .start(),
        ).then((c) => c.getConnectionUri()),
    given.redisUrl
      ? Promise.resolve(given.redisUrl)
      : track(new RedisContainer(REDIS_IMAGE).start()).then((c) => c.getConnectionUrl()),
    given.clickhouseUrl
      ? Promise.resolve(given.clickhouseUrl)
      : track(
          new ClickHouseContainer(CLICKHOUSE_IMAGE)
            .withDatabase('sluice')
            .withUsername('sluice')
            .withPassword('sluice')
            .start(),
        ).then((c) => c.getConnectionUrl()),
  ])
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failures.length > 0) {
    await stop()
    throw new AggregateError(
      failures.map((f) => f.reason),
      `could not start test containers: ${failures.map((f) => String(f.reason)).join('; ')}`,
    )
  }
  const [kafka, database, redis, clickhouse] = results as [
    PromiseFulfilledResult<string[]>,
    PromiseFulfilledResult<string>,
    PromiseFulfilledResult<string>,
    PromiseFulfilledResult<string>,
  ]
  return {
    services: {
      kafkaBrokers: kafka.value,
      databaseUrl: database.value,
      redisUrl: redis.value,
      clickhouseUrl: clickhouse.value,
    },
    stop,
  }
}

/**
 * Redpanda must advertise the host and port the tests reach it on, which are known only once the
 * container runs. So the container first waits for a start script; once the mapped port is known
 * the script is copied in and released, and the broker starts advertising host:mappedPort.
 */
async function startRedpanda(
  track: (starting: Promise<StartedTestContainer>) => Promise<StartedTestContainer>,
): Promise<string> {
  const { GenericContainer, Wait } = await import('testcontainers')
  const kafkaPort = 9092
  const script = '/tmp/sluice-redpanda-start.sh'
  const go = '/tmp/sluice-redpanda-go'
  const waiting = 'sluice: waiting for the start script'
  const container = await track(
    new GenericContainer(REDPANDA_IMAGE)
      .withExposedPorts(kafkaPort)
      .withEntrypoint(['/bin/sh', '-c'])
      .withCommand([`echo '${waiting}'; while [ ! -f ${go} ]; do sleep 0.1; done; exec /bin/sh ${script}`])
      .withWaitStrategy(Wait.forLogMessage(waiting))
      .withStartupTimeout(120_000)
      .start(),
  )
  const broker = `${container.getHost()}:${container.getMappedPort(kafkaPort)}`
  const start = [
    'exec rpk redpanda start --mode dev-container --smp 1 --memory 1G --overprovisioned --check=false',
    `--kafka-addr internal://0.0.0.0:9093,external://0.0.0.0:${kafkaPort}`,
    `--advertise-kafka-addr internal://127.0.0.1:9093,external://${broker}`,
  ].join(' ')
  await container.copyContentToContainer([{ content: `${start}\n`, target: script, mode: 0o755 }])
  // A separate "go" file, so that the loop never runs a half-copied script.
  await container.exec(['touch', go])
  await waitForKafka(broker, 120_000)
  // Behave like the local broker (scripts/kafka-up.sh): topics are created explicitly, 3 partitions.
  const settings = { auto_create_topics_enabled: 'false', default_topic_partitions: '3' }
  for (const [key, value] of Object.entries(settings)) {
    const result = await container.exec(['rpk', 'cluster', 'config', 'set', key, value])
    if (result.exitCode !== 0) throw new Error(`rpk cluster config set ${key} ${value} failed: ${result.output}`)
  }
  return broker
}

async function waitForKafka(broker: string, timeoutMs: number): Promise<void> {
  const { Kafka, logLevel } = await import('kafkajs')
  const kafka = new Kafka({
    clientId: 'sluice-global-setup',
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 3000,
    retry: { retries: 0 },
  })
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const admin = kafka.admin()
    try {
      await admin.connect()
      const cluster = await admin.describeCluster()
      if (cluster.brokers.length > 0) return
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`Redpanda at ${broker} not ready: ${String(err)}`, { cause: err })
    } finally {
      await admin.disconnect().catch(() => undefined)
    }
    if (Date.now() > deadline) throw new Error(`Redpanda at ${broker} lists no broker`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}
