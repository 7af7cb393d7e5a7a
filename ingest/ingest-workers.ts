import cluster, { type Worker } from 'node:cluster'
import { AggregatorRegistry, type Registry } from 'prom-client'
import type { Config } from '../lib/config.ts'
import type { Logger } from '../lib/logger.ts'

/**
 * `SLUICE_INGEST_WORKERS`: a process that runs the ingest role alone forks that many workers
 * (node:cluster), which share its port; the primary only forks, restarts and aggregates metrics.
 * Ingest is CPU-bound in one Node thread (docs/performance.md), so this is how it uses more cores.
 * Every other role combination runs in one process: processors must not run twice in a process
 * tree (one embedded ClickHouse directory has one owner).
 */
export function ingestWorkerCount(config: Config): number {
  return config.roles.length === 1 && config.roles[0] === 'ingest' ? config.ingestWorkers : 1
}

const METRICS_REQUEST = 'sluice:metrics-request'
const METRICS_ANSWER = 'sluice:metrics-answer'
const RESTART_DELAY_MS = 1_000
const MAX_RESTART_DELAY_MS = 30_000
/** A worker that lived this long was healthy: the next restart waits the base delay again. */
export const HEALTHY_LIFETIME_MS = 30_000

/**
 * How long the primary waits before it forks a replacement: a second, doubled for each worker in
 * a row that died young (one that cannot start must not be forked and fail every second), at
 * most 30 s.
 */
export function restartDelayMs(youngDeathsInARow: number): number {
  return Math.min(MAX_RESTART_DELAY_MS, RESTART_DELAY_MS * 2 ** Math.max(0, youngDeathsInARow - 1))
}

interface MetricsRequest {
  type: typeof METRICS_REQUEST
  id: number
}

interface MetricsAnswer {
  type: typeof METRICS_ANSWER
  id: number
  text?: string
  error?: string
}

export interface IngestPrimary {
  /** Stops every worker (each drains its requests, see server.ts) and resolves when all exited. */
  close(): Promise<void>
}

/**
 * The primary: forks the first worker and waits for it to listen (it runs the migrations and
 * creates the topics, so the others do not race it), then the rest. A worker that dies is
 * replaced. Rejects when the first worker cannot start.
 */
export async function startIngestPrimary(count: number, logger: Logger): Promise<IngestPrimary> {
  const aggregator = new AggregatorRegistry()
  let stopping = false
  let youngDeaths = 0
  // TRICKY: while no worker listens, node:cluster closes the port (connections are refused, not
  // queued) until a replacement listens again; the primary itself must outlive any of its own
  // mistakes, or there is no one left to start that replacement.
  const onPrimaryError = (err: unknown) => logger.error({ err }, 'ingest primary: uncaught error, still supervising the workers')
  process.on('uncaughtException', onPrimaryError)
  process.on('unhandledRejection', onPrimaryError)

  const listeningWorkers = new Set<number>()

  const pendingRestarts = new Set<NodeJS.Timeout>()
  const restart = (delayMs: number) => {
    // TRICKY: never unref() this timer. When every worker has died, it is the only thing left in
    // the primary's event loop (no IPC channel, and node:cluster has closed the port): unref'd,
    // the primary exits quietly with code 0 and the port stays closed for good.
    const timer = setTimeout(() => {
      pendingRestarts.delete(timer)
      if (stopping) return
      try {
        fork()
      } catch (err) {
        logger.error({ err }, 'could not fork an ingest worker; trying again')
        restart(restartDelayMs(++youngDeaths))
      }
    }, delayMs)
    pendingRestarts.add(timer)
  }

  const fork = (): Worker => {
    const worker = cluster.fork()
    const startedAt = Date.now()
    const pid = worker.process.pid
    worker.on('listening', () => listeningWorkers.add(worker.id))
    // TRICKY: an answer sent to a worker that died meanwhile fails with an 'error' event on the
    // worker; unheard, it would end the primary, and with it the port every worker serves on.
    worker.on('error', (err) => logger.warn({ err, worker: worker.id }, 'ingest worker channel failed'))
    const answer = (a: MetricsAnswer) => {
      if (worker.isConnected()) worker.send(a, (err: Error | null) => err && logger.warn({ err, worker: worker.id }, 'could not answer a metrics request'))
    }
    worker.on('message', (message: MetricsRequest) => {
      if (message?.type !== METRICS_REQUEST) return
      aggregator.clusterMetrics().then(
        (text) => answer({ type: METRICS_ANSWER, id: message.id, text }),
        (err: unknown) => answer({ type: METRICS_ANSWER, id: message.id, error: String(err) }),
      )
    })
    worker.on('exit', (code, signal) => {
      listeningWorkers.delete(worker.id)
      if (stopping) return
      const livedMs = Date.now() - startedAt
      youngDeaths = livedMs < HEALTHY_LIFETIME_MS ? youngDeaths + 1 : 0
      const delayMs = restartDelayMs(youngDeaths)
      // Why it died is in its own log lines just before (server.ts logs a fatal error); the
      // code or signal says how: 1 an error, 0 a clean stop, SIGKILL from outside (or OOM).
      logger.error({ worker: worker.id, pid, code, signal, livedMs, restartInMs: delayMs }, 'ingest worker exited; starting another')
      if (listeningWorkers.size === 0) logger.error({ restartInMs: delayMs }, 'no ingest worker is listening: connections are refused until a new one listens')
      restart(delayMs)
    })
    return worker
  }

  const listening = (worker: Worker) =>
    new Promise<void>((resolve, reject) => {
      const onExit = (code: number) => reject(new Error(`ingest worker exited with code ${code} before listening`))
      worker.once('exit', onExit)
      worker.once('listening', () => {
        worker.off('exit', onExit)
        resolve()
      })
    })

  const first = fork()
  try {
    await listening(first)
  } catch (err) {
    stopping = true
    process.off('uncaughtException', onPrimaryError)
    process.off('unhandledRejection', onPrimaryError)
    throw err
  }
  await Promise.all(Array.from({ length: count - 1 }, () => listening(fork())))
  logger.info({ workers: count }, 'ingest workers listening')

  return {
    async close() {
      stopping = true
      for (const timer of pendingRestarts) clearTimeout(timer)
      pendingRestarts.clear()
      process.off('uncaughtException', onPrimaryError)
      process.off('unhandledRejection', onPrimaryError)
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined)
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve) => {
              if (w.isDead()) return resolve()
              w.once('exit', () => resolve())
              w.process.kill('SIGTERM')
            }),
        ),
      )
    },
  }
}

/**
 * In a worker: an error that ends it is logged (JSON, with the worker's pid) before it exits with
 * code 1, so the primary's "ingest worker exited" line has the reason right before it.
 */
export function logFatalWorkerErrors(logger: Logger): void {
  const fatal = (kind: string) => (err: unknown) => {
    logger.fatal({ err, kind }, 'ingest worker failed; exiting')
    process.exit(1)
  }
  process.on('uncaughtException', fatal('uncaught exception'))
  process.on('unhandledRejection', fatal('unhandled rejection'))
}

/**
 * In a worker: what `/metrics` answers is the sum over all workers (prom-client's
 * AggregatorRegistry in the primary), not this worker's share. Installs itself on `registry`.
 */
export function shareMetricsWithPrimary(registry: Registry): void {
  // Constructing one is what makes prom-client answer the primary's requests in this worker.
  new AggregatorRegistry()
  AggregatorRegistry.setRegistries([registry])
  let next = 0
  const pending = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>()
  process.on('message', (message: MetricsAnswer) => {
    if (message?.type !== METRICS_ANSWER) return
    const waiter = pending.get(message.id)
    pending.delete(message.id)
    if (message.text !== undefined) waiter?.resolve(message.text)
    else waiter?.reject(new Error(`metrics from the other workers: ${message.error ?? 'no answer'}`))
  })
  // TRICKY: the primary gathers every worker's registry with getMetricsAsJSON, never metrics(), so
  // this does not recurse.
  registry.metrics = () =>
    new Promise<string>((resolve, reject) => {
      const id = ++next
      pending.set(id, { resolve, reject })
      process.send?.({ type: METRICS_REQUEST, id } satisfies MetricsRequest)
    })
}
