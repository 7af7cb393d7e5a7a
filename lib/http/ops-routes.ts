import type { FastifyPluginAsync } from 'fastify'
import { fetchConsumerLag } from '../kafka/consumer-lag.ts'
import type { ProcessorLiveness } from '../../processors/start-consumer-group.ts'
import type { Services } from '../services.ts'
import { VERSIONS } from '../version.ts'
import { opsDocs } from './route-schemas/index.ts'

export interface OpsRoutesOptions {
  services: Services
  /** Every consumer group of this deployment and the topics it reads. */
  consumerGroups: ReadonlyArray<{ group: string; topics: readonly string[] }>
  /** The processors this process runs (none unless it has the processor role). */
  processorLiveness: () => readonly ProcessorLiveness[]
}

const CHECK_TIMEOUT_MS = 2_000

/** `/health`, `/ready`, `/metrics` and `/api/ops/lag`. */
export const opsRoutes: FastifyPluginAsync<OpsRoutesOptions> = async (app, { services, consumerGroups, processorLiveness }) => {
  const { metrics } = services

  app.get('/health', { schema: opsDocs.health }, async () => ({ status: 'ok', version: VERSIONS }))

  app.get('/ready', { schema: opsDocs.ready }, async (_request, reply) => {
    const { ok, checks, processors } = await readiness()
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks, processors })
  })

  app.get('/metrics', { schema: opsDocs.metrics }, async (_request, reply) => {
    // Prometheus scrapes /metrics, not /ready: sluice_ready is refreshed here too, so an alert on it
    // sees what /ready would answer now.
    await Promise.all([refreshLag().catch((err: unknown) => app.log.warn({ err }, 'could not read consumer lag')), readiness()])
    return reply.header('content-type', metrics.registry.contentType).send(await metrics.render())
  })

  app.get('/api/ops/lag', { onRequest: app.requireKey('admin'), schema: opsDocs.lag }, async () => refreshLag())

  async function readiness() {
    const checks = await checkDependencies(services)
    const processors = processorLiveness()
    const ok = Object.values(checks).every((c) => c === 'ok' || c === 'unused') && processors.every((p) => p.state === 'ok')
    metrics.ready.set(ok ? 1 : 0)
    return { ok, checks, processors }
  }

  async function refreshLag() {
    const rows = await fetchConsumerLag(services.admin, consumerGroups)
    for (const r of rows) {
      const labels = { group: r.group, topic: r.topic, partition: String(r.partition) }
      metrics.consumerLag.set(labels, r.lag)
      metrics.consumerOffset.set(labels, r.committed_offset)
    }
    return rows
  }
}

export async function checkDependencies(s: Services): Promise<Record<'kafka' | 'postgres' | 'clickhouse' | 'redis', string>> {
  const unused = async () => 'unused'
  const [kafka, postgres, clickhouse, redis] = await Promise.all([
    check(() => s.admin.describeCluster()),
    s.uses.has('postgres') ? check(() => s.pg.query('SELECT 1')) : unused(),
    s.uses.has('clickhouse')
      ? check(async () => {
          const r = await s.clickhouse.ping()
          if (!r.success) throw r.error
        })
      : unused(),
    s.uses.has('redis') ? check(() => s.redis.ping()) : unused(),
  ])
  return { kafka, postgres, clickhouse, redis }
}

async function check(fn: () => Promise<unknown>): Promise<string> {
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS)
      }),
    ])
    return 'ok'
  } catch (err) {
    return `error: ${(err as Error).message.slice(0, 200)}`
  } finally {
    clearTimeout(timer)
  }
}
