/**
 * The worker-thread side of processor-thread.ts: connects to what its processor uses (never
 * ClickHouse; topics and migrations are the main thread's), runs it, and answers the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { createDeadLetterStore } from '../lib/dead-letters/dead-letter-store.ts'
import { createLogger } from '../lib/logger.ts'
import { createMetrics } from '../lib/metrics.ts'
import { closeServices, connectServices } from '../lib/services.ts'
import type { FromThread, ThreadData, ToThread } from './processor-thread.ts'
import { consumerGroups, processorNamed, readersAmong } from './registry.ts'
import { runGroupHere } from './run-group-here.ts'
import { createSharedDecoder } from './shared-decoder.ts'

const LIVENESS_EVERY_MS = 500

const port = parentPort!
const { processor, config } = workerData as ThreadData
const send = (m: FromThread) => port.postMessage(m)
const definition = processorNamed(processor)
const logger = createLogger({ level: config.logLevel }).child({ thread: processor })
const metrics = createMetrics({ defaultMetrics: false })

try {
  const services = await connectServices(config, { logger, metrics }, { only: ['postgres', ...definition.uses], prepare: false })
  let reportNow = () => {}
  const running = await runGroupHere(consumerGroups(config, [definition])[0]!, {
    services,
    decoder: createSharedDecoder({ codec: services.codec, maxEntries: 2 }),
    readersOf: readersAmong(config, [definition]),
    deadLetters: createDeadLetterStore(services.pg),
    wakeWebhooks: () => send({ type: 'wake-webhooks' }),
    // A commit is reported at once: /ready must not show a stall the thread already got past.
    onCommit: () => reportNow(),
  })
  reportNow = () => send({ type: 'liveness', liveness: running.liveness() })
  const report = setInterval(reportNow, LIVENESS_EVERY_MS)
  port.on('message', (m: ToThread) => {
    if (m.type === 'metrics') {
      metrics.registry.getMetricsAsJSON().then((snapshot) => send({ type: 'metrics', id: m.id, metrics: snapshot }))
      return
    }
    clearInterval(report)
    running
      .stop()
      .catch((err: unknown) => logger.error({ err }, 'stopping the processor failed'))
      .then(() => closeServices(services))
      // Ends this thread only (its exit is what the main thread waits for), whatever a client
      // library left scheduled.
      .finally(() => process.exit(0))
  })
  send({ type: 'started' })
} catch (err) {
  send({ type: 'failed', error: (err as Error).message })
  process.exit(1)
}
