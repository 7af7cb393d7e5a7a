import { applyLogRetention } from '../lib/log-retention.ts'
import type { Services } from '../lib/services.ts'
import { createDeadLetterStore } from '../lib/dead-letters/dead-letter-store.ts'
import { startProcessorThread } from './processor-thread.ts'
import { pruneMatches } from './reactions/complaint-writer.ts'
import { consumerGroups, readersAmong, type ConsumerGroup } from './registry.ts'
import { adoptRetiredGroups, retiredGroups } from './retired-groups.ts'
import { runGroupHere, type HereContext } from './run-group-here.ts'
import { createSharedDecoder } from './shared-decoder.ts'
import type { ProcessorLiveness, RunningGroup } from './start-consumer-group.ts'
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
  // A group of one processor that needs no ClickHouse runs in a thread of its own; the others here.
  const inThread = (g: ConsumerGroup) => config.processor.threads && g.processors.length === 1 && !g.processors[0]!.uses.includes('clickhouse')
  const groups = consumerGroups(config)
  const here = groups.filter((g) => !inThread(g)).flatMap((g) => g.processors)
  const ctx: HereContext = {
    services,
    decoder: createSharedDecoder({ codec: services.codec, maxEntries: DECODE_CACHE_ENTRIES }),
    readersOf: readersAmong(config, here),
    deadLetters: createDeadLetterStore(services.pg),
    wakeWebhooks,
  }
  await adoptRetiredGroups(services.admin, config.kafka.eventsTopic, retiredGroups(config), logger)
  const running: RunningGroup[] = []
  try {
    for (const g of groups) {
      running.push(
        inThread(g)
          ? await startProcessorThread({ processor: g.processors[0]!.name, group: g.group, config, metrics, logger, wakeWebhooks })
          : await runGroupHere(g, ctx),
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
    liveness: () => running.flatMap((p) => p.liveness()),
    async stop() {
      clearInterval(prune)
      await Promise.all(running.map((p) => p.stop()))
      // After the consumers: a complaint opened by their last flush still gets its first attempt.
      await webhooks.stop()
    },
  }
}
