import { applyLogRetention } from '../lib/log-retention.ts'
import type { Services } from '../lib/services.ts'
import { createDeadLetterStore } from '../lib/dead-letters/dead-letter-store.ts'
import type { ProcessorDefinition } from './define-processor.ts'
import { startProcessorThread } from './processor-thread.ts'
import { pruneMatches } from './reactions/complaint-writer.ts'
import { PROCESSORS, readersAmong } from './registry.ts'
import { runProcessorHere, type HereContext } from './run-processor-here.ts'
import { createSharedDecoder } from './shared-decoder.ts'
import type { ProcessorLiveness, RunningProcessor } from './start-processor.ts'
import { createWebhookDispatcher } from './webhook-dispatcher/webhook-dispatcher.ts'

export interface RunningProcessors {
  /** Stops intake and waits for in-flight fetches to be stored and committed. */
  stop(): Promise<void>
  liveness(): ProcessorLiveness[]
}

const PRUNE_INTERVAL_MS = 10 * 60_000
// Decoded messages kept for the other groups of this process: about one large fetch (they move
// through the log together); 30k and 100k measured the same peak RSS in a 200k catch-up.
const DECODE_CACHE_ENTRIES = 50_000

/** Starts every processor of the registry, and the webhook dispatcher, which delivers the reactions' outbox. */
export async function startProcessors(services: Services): Promise<RunningProcessors> {
  const { config, metrics, logger } = services
  await applyLogRetention(services.clickhouse, services.tables, config.logs.retentionDays)

  const webhooks = createWebhookDispatcher({ pg: services.pg, config: config.webhooks, metrics, logger })
  const wakeWebhooks = () => webhooks.wake()
  const inThread = (d: ProcessorDefinition) => config.processor.threads && !d.uses.includes('clickhouse')
  const here = PROCESSORS.filter((d) => !inThread(d))
  const ctx: HereContext = {
    services,
    decoder: createSharedDecoder({ codec: services.codec, maxEntries: DECODE_CACHE_ENTRIES }),
    readersOf: readersAmong(here),
    deadLetters: createDeadLetterStore(services.pg),
    wakeWebhooks,
  }
  const running: RunningProcessor[] = []
  try {
    for (const definition of PROCESSORS) {
      running.push(
        inThread(definition)
          ? await startProcessorThread({ processor: definition.name, group: definition.group(config), config, metrics, logger, wakeWebhooks })
          : await runProcessorHere(definition, ctx),
      )
    }
  } catch (err) {
    await Promise.allSettled(running.map((p) => p.stop()))
    throw err
  }
  webhooks.start()

  const prune = setInterval(() => {
    pruneMatches(services.pg).catch((err: unknown) => logger.warn({ err }, 'pruning reaction matches failed'))
  }, PRUNE_INTERVAL_MS)
  prune.unref()

  return {
    liveness: () => running.map((p) => p.liveness()),
    async stop() {
      clearInterval(prune)
      await Promise.all(running.map((p) => p.stop()))
      // After the consumers: a complaint opened by their last flush still gets its first attempt.
      await webhooks.stop()
    },
  }
}
