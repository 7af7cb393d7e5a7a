import type { Config } from '../lib/config.ts'
import { EVENT_TYPES } from '../lib/event-types.ts'
import type { ProcessorDefinition } from './define-processor.ts'
import { logsProcessor } from './logs/logs-processor.ts'
import { reactionsProcessor } from './reactions/reactions-processor.ts'
import { runsFunnelProcessor } from './runs-funnel/runs-funnel-processor.ts'

/**
 * Every stream processor of Sluice, each in its own consumer group on the events topic (its own lag,
 * its own retries):
 *   runs-funnel → ClickHouse runs, steps, funnel rollup
 *   logs        → ClickHouse logs
 *   reactions   → Postgres matches, complaints and the webhook outbox
 * Adding a processor is one file plus one line here: the processor role starts it, /api/ops/lag
 * and /metrics report its group, /ready its liveness.
 */
export const PROCESSORS: readonly ProcessorDefinition[] = [runsFunnelProcessor, logsProcessor, reactionsProcessor]

/** Every consumer group a Sluice deployment runs and the topics it reads. */
export function consumerGroups(config: Config): Array<{ processor: string; group: string; topics: string[] }> {
  return PROCESSORS.map((p) => ({ processor: p.name, group: p.group(config), topics: [config.kafka.eventsTopic] }))
}

/**
 * How many of these processors read a message of a type (undefined or unknown: every one decodes
 * it): the shared decoder of a thread keeps a decoded message until its last reader took it.
 */
export function readersAmong(processors: readonly ProcessorDefinition[]): (type: string | undefined) => number {
  const readers = new Map(EVENT_TYPES.map((t) => [t as string, processors.filter((p) => p.eventTypes.includes(t)).length]))
  return (type) => (type === undefined ? undefined : readers.get(type)) ?? processors.length
}

/** The processor of this name, for a worker thread that runs it. */
export function processorNamed(name: string): ProcessorDefinition {
  const found = PROCESSORS.find((p) => p.name === name)
  if (!found) throw new Error(`no processor named ${name}`)
  return found
}
