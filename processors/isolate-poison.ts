import type { Flush, FlushOutcome } from './define-processor.ts'
import { isInfrastructureFailure } from './failure-kind.ts'
import type { PositionedEvent } from './positioned-events.ts'

/** Attempts of an event alone before it is taken as poison (the contract's number). */
export const ATTEMPTS_ALONE = 3
/**
 * Events found failing alone, with nothing of the flush succeeding, after which the failure is taken
 * as the processor's own (a bug, a schema that is missing) rather than bad events: the flush is then
 * retried whole, later, and nothing is dead-lettered.
 */
export const MAX_POISON_WITHOUT_SUCCESS = 25

export interface PoisonEvent {
  event: PositionedEvent
  error: unknown
}

export class SystemicFailureError extends Error {
  readonly lastError: unknown
  constructor(lastError: unknown) {
    super(`every part of the flush fails, alone too: ${(lastError as Error)?.message ?? String(lastError)}`, { cause: lastError })
    this.lastError = lastError
    this.name = 'SystemicFailureError'
  }
}

/**
 * Finds the events of a failed flush that fail on their own, when the stores answer. The flush is
 * split in halves, in order (each partition's events stay in offset order, so a processor sees what
 * it would have seen in smaller fetches); a half that is stored is done, a half that fails is split
 * again, and an event that fails alone `ATTEMPTS_ALONE` times is poison. Costs about
 * 2·log2(n) extra handles per poison event. Throws (nothing is dead-lettered) when a failure is the
 * infrastructure's, or when the stores stop answering while it works.
 */
export async function isolatePoison(
  flush: Flush,
  handle: (flush: Flush) => Promise<FlushOutcome>,
  storesAnswer: () => Promise<boolean>,
  heartbeat: () => Promise<void> = async () => {},
): Promise<{ outcome: FlushOutcome; poison: PoisonEvent[] }> {
  const outcome: Required<Omit<FlushOutcome, 'details'>> = { stored: 0, duplicate: 0, ignored: 0, skipped: 0 }
  const poison: PoisonEvent[] = []
  let succeeded = false

  async function attempt(events: readonly PositionedEvent[]): Promise<unknown> {
    await heartbeat()
    try {
      const o = await handle(subFlush(flush, events))
      succeeded = true
      outcome.stored += o.stored
      outcome.duplicate += o.duplicate
      outcome.ignored += o.ignored ?? 0
      outcome.skipped += o.skipped ?? 0
      return null
    } catch (err) {
      if (isInfrastructureFailure(err) || !(await storesAnswer())) throw err
      return err ?? new Error('handle failed')
    }
  }

  async function alone(event: PositionedEvent): Promise<void> {
    let error: unknown = null
    for (let i = 0; i < ATTEMPTS_ALONE; i++) {
      error = await attempt([event])
      if (error === null) return
    }
    poison.push({ event, error })
    if (!succeeded && poison.length >= MAX_POISON_WITHOUT_SUCCESS) throw new SystemicFailureError(error)
  }

  /** `events` failed together: store what can be stored of them, in order. */
  async function split(events: readonly PositionedEvent[]): Promise<void> {
    if (events.length === 1) return alone(events[0]!)
    const mid = Math.ceil(events.length / 2)
    for (const half of [events.slice(0, mid), events.slice(mid)]) {
      if (half.length === 1) await alone(half[0]!)
      else if ((await attempt(half)) !== null) await split(half)
    }
  }

  if (flush.events.length > 0) await split(flush.events)
  if (!succeeded && poison.length > 1) throw new SystemicFailureError(poison[poison.length - 1]!.error)
  return { outcome, poison }
}

/** The part of a flush made of `events`; each partition covers up to its last event there. */
export function subFlush(flush: Flush, events: readonly PositionedEvent[]): Flush {
  if (events.length === flush.events.length) return flush
  const last = new Map<number, number>()
  for (const e of events) last.set(e.partition, Math.max(last.get(e.partition) ?? -1, e.offset))
  const partitions = flush.partitions.filter((p) => last.has(p.partition)).map((p) => ({ ...p, lastOffset: last.get(p.partition)! }))
  return { events, partitions }
}
