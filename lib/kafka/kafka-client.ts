import { Kafka, logLevel, type logCreator } from 'kafkajs'
import type { Logger } from '../logger.ts'

/** The only place that constructs a kafkajs client; the rest of Sluice sees EventProducer/EventConsumer. */
export function createKafka(options: { brokers: readonly string[]; clientId: string; logger: Logger }): Kafka {
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    connectionTimeout: 3_000,
    requestTimeout: 15_000,
    retry: { initialRetryTime: 100, retries: 5, maxRetryTime: 2_000 },
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator(options.logger.child({ component: 'kafkajs' })),
  })
}

// Group coordination errors kafkajs retries by itself while a broker or group is starting; they
// are part of every cold start, so they are not reported as errors.
const TRANSIENT = /coordinator (is loading|is not available)|not the correct coordinator|group coordinator not available/i

function pinoLogCreator(logger: Logger): logCreator {
  return () => ({ level, log }) => {
    const { message, ...extra } = log
    const text = `${message} ${String((extra as { error?: unknown }).error ?? '')}`
    if (level <= logLevel.WARN && TRANSIENT.test(text)) logger.info(extra, message)
    else if (level === logLevel.ERROR) logger.error(extra, message)
    else if (level === logLevel.WARN) logger.warn(extra, message)
    else if (level === logLevel.INFO) logger.info(extra, message)
    else logger.debug(extra, message)
  }
}
