import cluster from 'node:cluster'
import { parseArgs } from 'node:util'
import type { FastifyInstance } from 'fastify'
import { ingestRoutes } from './ingest/app.ts'
import { ingestWorkerCount, logFatalWorkerErrors, shareMetricsWithPrimary, startIngestPrimary } from './ingest/ingest-workers.ts'
import { ConfigError, loadConfig, ROLES, type Config, type Role } from './lib/config.ts'
import { createRoleApp, type RoutePlugin } from './lib/http/create-role-app.ts'
import { createLogger } from './lib/logger.ts'
import { createMetrics } from './lib/metrics.ts'
import { closeServices, connectServices } from './lib/services.ts'
import { shutdownInOrder } from './lib/shutdown.ts'
import { startProcessors, type RunningProcessors } from './processors/start-processors.ts'
import { queryRoutes } from './query-api/app.ts'
import { VERSIONS } from './lib/version.ts'

export interface RunningSluice {
  url: string
  config: Config
  close(): Promise<void>
}

/**
 * Starts the roles of `config` in this process: connects, migrates, creates topics, starts the
 * processors and listens. Every role shares one HTTP port, which also serves /health, /ready,
 * /metrics and /api/ops/lag.
 */
export async function startSluice(config: Config): Promise<RunningSluice> {
  const logger = createLogger({ level: config.logLevel })
  const metrics = createMetrics()
  if (cluster.isWorker) shareMetricsWithPrimary(metrics.registry)
  const services = await connectServices(config, { logger, metrics })
  const routes: RoutePlugin[] = []
  if (config.roles.includes('ingest')) routes.push(ingestRoutes)
  if (config.roles.includes('query')) routes.push(queryRoutes)
  let app: FastifyInstance | undefined
  let processors: RunningProcessors | undefined
  try {
    app = await createRoleApp(services, routes, { processorLiveness: () => processors?.liveness() ?? [] })
    if (config.roles.includes('processor')) processors = await startProcessors(services)
    await app.listen({ port: config.port, host: config.host })
  } catch (err) {
    await processors?.stop().catch(() => {})
    await app?.close().catch(() => {})
    await closeServices(services)
    throw err
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  logger.info({ roles: config.roles, port, version: VERSIONS }, 'sluice started')
  const httpApp = app
  return {
    url: `http://127.0.0.1:${port}`,
    config,
    async close() {
      // TRICKY: the order loses nothing in flight. HTTP first (in-flight /ingest requests finish
      // and get their acks), then the consumers (the batch in flight is stored and committed),
      // then the connections those two used.
      await shutdownInOrder(
        [
          ['stop HTTP intake and finish in-flight requests', () => httpApp.close()],
          ['stop consumers and drain in-flight batches', () => processors?.stop() ?? Promise.resolve()],
          ['close connections', () => closeServices(services)],
        ],
        { logger, timeoutMs: config.shutdownTimeoutMs },
      )
    },
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { role: { type: 'string', multiple: true } }, allowPositionals: false })
  const roles = values.role?.flatMap((r) => r.split(',')) as Role[] | undefined
  if (roles && !roles.every((r) => (ROLES as readonly string[]).includes(r))) {
    console.error(`--role must be one of ${ROLES.join(', ')}`)
    process.exit(2)
  }
  let config: Config
  try {
    config = loadConfig(process.env, roles ? { roles } : {})
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message)
      process.exit(2)
    }
    throw err
  }
  const workers = ingestWorkerCount(config)
  if (cluster.isWorker) logFatalWorkerErrors(createLogger({ level: config.logLevel }))
  // An ingest-only process with more than one worker: this one forks, the workers serve.
  const running = cluster.isPrimary && workers > 1 ? await startIngestPrimary(workers, createLogger({ level: config.logLevel })) : await startSluice(config)
  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    console.error(`received ${signal}, shutting down`)
    await running.close()
    process.exit(0)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
  // A worker whose primary is gone stops too, rather than serve on unsupervised.
  if (cluster.isWorker) process.on('disconnect', () => void stop('disconnect from the primary'))
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err)
    process.exit(1)
  })
}
