import { createEventConsumer } from '../lib/kafka/event-consumer.ts'
import type { Services } from '../lib/services.ts'
import { createDeadLetterSink } from './dead-letter.ts'
import { createFunnelStore } from './runs-funnel/funnel-store.ts'
import { createRunsFunnelProcessor } from './runs-funnel/runs-funnel-processor.ts'

export interface RunningProcessors {
  /** Stops intake and waits for in-flight batches to be stored and committed. */
  stop(): Promise<void>
}

/** Starts every stream processor of the processor role on the given connections. */
export async function startProcessors(services: Services): Promise<RunningProcessors> {
  const { config, metrics, logger } = services
  const group = config.processor.runsFunnelGroup
  const runsFunnel = createRunsFunnelProcessor({
    consumer: createEventConsumer(services.kafka, {
      groupId: group,
      topics: [config.kafka.eventsTopic],
      maxBytesPerPartition: config.processor.maxBatchBytes,
      logger: logger.child({ consumer: group }),
      onBatchFailed: () => metrics.processorErrors.inc({ processor: 'runs-funnel' }),
    }),
    codec: services.codec,
    store: createFunnelStore({ client: services.clickhouse, tables: services.tables, metrics }),
    deadLetter: createDeadLetterSink({
      producer: services.producer,
      topic: config.kafka.deadLetterTopic,
      processor: 'runs-funnel',
      metrics,
      logger,
    }),
    group,
    metrics,
    logger,
  })
  await runsFunnel.start()
  return { stop: () => runsFunnel.stop() }
}
