import type { Config } from '../lib/config.ts'
import type { EventType } from '../lib/event-types.ts'
import type { Dependency, Services } from '../lib/services.ts'
import type { PositionedEvent } from './positioned-events.ts'

/** What one fetch of a processor's consumer group holds, decoded, for its `handle`. */
export interface Flush {
  /** The processor's events (of its `eventTypes`), by partition, then offset. */
  events: readonly PositionedEvent[]
  /**
   * Every partition the flush covers and the last offset it covers there, counting messages that
   * were skipped (other types) or dead-lettered: a processor that keeps a resume marker stores this.
   */
  partitions: ReadonlyArray<{ topic: string; partition: number; lastOffset: number }>
}

/** How the events of a flush ended, for the outcome counters and the "batch stored" log. */
export interface FlushOutcome {
  stored: number
  duplicate: number
  /** Events the processor read and had nothing to do with. */
  ignored?: number
  /** Events a resume marker showed as stored already (a replay after a crash). */
  skipped?: number
  /** Extra fields for the log line. */
  details?: Record<string, unknown>
}

export interface ProcessorInstance {
  /**
   * Stores one flush. Throws only when a dependency failed (the flush is retried whole, later) or
   * when an event cannot be stored (the skeleton then finds which one, and dead-letters it).
   * Must be idempotent: a flush handled again after a crash or a failure counts nothing twice.
   */
  handle(flush: Flush): Promise<FlushOutcome>
  /** Resolves when the stores the processor writes to answer: tells a store that is down from a bad event. */
  probe(): Promise<void>
  /** Partitions moved between the group's members: forget what was cached about them. */
  onAssignmentChange?(): void
}

export interface ProcessorContext {
  services: Services
  /** Tells the webhook dispatcher that a delivery is waiting. */
  wakeWebhooks(): void
}

/** A stream processor: one consumer group on the events topic, and what it does with each flush. */
export interface ProcessorDefinition {
  /** The `processor` label of its metrics and logs. */
  name: string
  group(config: Config): string
  /** The event types it reads; other messages are skipped undecoded (by their type header). */
  eventTypes: readonly EventType[]
  /**
   * The stores it reads and writes (Postgres is always there, for dead letters). One that needs
   * no ClickHouse runs in a worker thread of its own (`SLUICE_PROCESSOR_THREADS`): the embedded
   * engine belongs to the main thread.
   */
  uses: readonly Exclude<Dependency, 'kafka'>[]
  create(context: ProcessorContext): ProcessorInstance
}

/**
 * Declares a processor. Everything around `handle` (fetching, decoding once per process,
 * dead-lettering, isolating a bad event, committing, timing, outcome counts, the "batch stored"
 * log, liveness) is `startProcessor`'s, written once.
 *
 * @example
 * export const logsProcessor = defineProcessor({
 *   name: 'logs', group: (c) => c.processor.logsGroup, eventTypes: ['log'], uses: ['clickhouse'],
 *   create: ({ services }) => ({ handle: (flush) => insertLogs(flush.events), probe: () => ping() }),
 * })
 */
export function defineProcessor(definition: ProcessorDefinition): ProcessorDefinition {
  return definition
}
