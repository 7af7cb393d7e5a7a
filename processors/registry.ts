import type { Config } from '../lib/config.ts'
import { EVENT_TYPES } from '../lib/event-types.ts'
import type { ProcessorDefinition } from './define-processor.ts'
import { logsProcessor } from './logs/logs-processor.ts'
import { reactionsProcessor } from './reactions/reactions-processor.ts'
import { runsFunnelProcessor } from './runs-funnel/runs-funnel-processor.ts'

/**
 * Every stream processor of Sluice, and the consumer group on the events topic whose fetches feed it:
 *   runs-funnel → ClickHouse runs, steps, funnel rollup   ┐ group sluice-runs-funnel: one fetch and
 *   logs        → ClickHouse logs                         ┘ one decode for both (the same store)
 *   reactions   → Postgres matches, complaints and the webhook outbox (group sluice-reactions: its own
 *                 lag and retries, so a slow rule set never holds funnels back)
 * Processors that name the same group share its fetches and commits (see start-consumer-group.ts).
 * Adding a processor is one file plus one line here: the processor role starts it, /api/ops/lag
 * and /metrics report its group, /ready its liveness.
 */
export const PROCESSORS: readonly ProcessorDefinition[] = [runsFunnelProcessor, logsProcessor, reactionsProcessor]

export interface ConsumerGroup {
  group: string
  /** Its processors, in registry order. */
  processors: ProcessorDefinition[]
  topics: string[]
}

/** The consumer groups of these processors (every group a Sluice deployment runs, by default). */
export function consumerGroups(config: Config, processors: readonly ProcessorDefinition[] = PROCESSORS): ConsumerGroup[] {
  const groups = new Map<string, ConsumerGroup>()
  for (const p of processors) {
    const group = p.group(config)
    const g = groups.get(group)
    if (g) g.processors.push(p)
    else groups.set(group, { group, processors: [p], topics: [config.kafka.eventsTopic] })
  }
  return [...groups.values()]
}

/**
 * How many consumer groups of these processors read a message of a type (undefined or unknown:
 * every group decodes it): the shared decoder of a thread keeps a decoded message until its last
 * reader took it.
 */
export function readersAmong(config: Config, processors: readonly ProcessorDefinition[]): (type: string | undefined) => number {
  const groups = consumerGroups(config, processors)
  const readers = new Map(EVENT_TYPES.map((t) => [t as string, groups.filter((g) => g.processors.some((p) => p.eventTypes.includes(t))).length]))
  return (type) => (type === undefined ? undefined : readers.get(type)) ?? groups.length
}

/** The processor of this name, for a worker thread that runs it. */
export function processorNamed(name: string): ProcessorDefinition {
  const found = PROCESSORS.find((p) => p.name === name)
  if (!found) throw new Error(`no processor named ${name}`)
  return found
}
