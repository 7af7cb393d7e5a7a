import type { Flush, FlushOutcome, ProcessorInstance } from '../define-processor.ts'
import { defineProcessor } from '../define-processor.ts'
import type { PositionedEvent } from '../positioned-events.ts'
import { planBatch, type KnownState } from './batch-plan.ts'
import { createFunnelStore, type FunnelStore } from './funnel-store.ts'
import { createKnownRuns, type RunRef } from './known-runs.ts'

/**
 * Run events → ClickHouse runs, steps and per-pipeline funnels. Per flush: skip what the stored
 * markers cover (a replay after a crash), plan first occurrences and funnel contributions against
 * what the store holds (cached, see known-runs.ts), write rows, then deltas and markers in one insert.
 */
export const runsFunnelProcessor = defineProcessor({
  name: 'runs-funnel',
  group: (config) => config.processor.runsFunnelGroup,
  eventTypes: ['run_start', 'step_complete', 'run_complete'],
  uses: ['clickhouse'],
  create({ services }) {
    const store = createFunnelStore({ client: services.clickhouse, tables: services.tables, metrics: services.metrics })
    return createRunsFunnelHandler({ store, group: services.config.processor.runsFunnelGroup, cacheRuns: services.config.processor.runCacheSize })
  },
})

export function createRunsFunnelHandler(options: { store: FunnelStore; group: string; cacheRuns: number }): ProcessorInstance {
  const { store, group } = options
  const knownRuns = createKnownRuns(options.cacheRuns)
  // The marker ClickHouse holds per topic:partition (null: none); re-read after a rebalance, since
  // another member may have moved it.
  const markers = new Map<string, number | null>()

  async function markerFor(topic: string, partition: number): Promise<number | null> {
    const k = `${topic}:${partition}`
    if (!markers.has(k)) markers.set(k, await store.readMarker({ group, topic, partition }))
    return markers.get(k) ?? null
  }

  async function knownStateOf(events: readonly PositionedEvent[]): Promise<{ known: KnownState; refs: RunRef[] }> {
    const refs = new Map<string, RunRef>()
    for (const { event: e } of events) {
      if (e.type === 'log') continue
      refs.set(`${e.project_id}\u0000${e.payload.run_id}`, { project_id: e.project_id, run_id: e.payload.run_id })
    }
    const all = [...refs.values()]
    const { known, missing } = knownRuns.lookup(all)
    if (missing.length > 0) {
      const loaded = await store.loadKnownState([...new Set(missing.map((r) => r.project_id))], missing.map((r) => r.run_id))
      knownRuns.fill(missing, loaded)
      known.runStarts.push(...loaded.runStarts)
      known.steps.push(...loaded.steps)
      known.completions.push(...loaded.completions)
    }
    return { known, refs: all }
  }

  return {
    probe: () => store.ping(),
    onAssignmentChange() {
      markers.clear()
      knownRuns.clear()
    },
    async handle(flush: Flush): Promise<FlushOutcome> {
      const before = new Map<number, number | null>()
      for (const p of flush.partitions) before.set(p.partition, await markerFor(p.topic, p.partition))
      const fresh = flush.events.filter((e) => {
        const m = before.get(e.partition)
        return m === null || m === undefined || e.offset > m
      })
      const skipped = flush.events.length - fresh.length
      if (fresh.length === 0) return { stored: 0, duplicate: 0, skipped }

      const t0 = performance.now()
      const { known, refs } = await knownStateOf(fresh)
      const t1 = performance.now()
      const plan = planBatch(fresh, known)
      const t2 = performance.now()
      // TRICKY: forget the cached markers and runs while writing. A write can fail after its marker
      // landed (a timeout on an insert the server completed); the retry must then read the marker
      // back and skip the flush, not plan it again against rows that already count.
      for (const p of flush.partitions) markers.delete(`${p.topic}:${p.partition}`)
      try {
        await store.write(
          plan,
          flush.partitions.map((p) => ({ group, topic: p.topic, partition: p.partition, offset: p.lastOffset })),
        )
      } catch (err) {
        knownRuns.forget(refs)
        throw err
      }
      for (const p of flush.partitions) {
        markers.set(`${p.topic}:${p.partition}`, plan.contributions.length > 0 ? Math.max(p.lastOffset, before.get(p.partition) ?? -1) : (before.get(p.partition) ?? null))
      }
      knownRuns.record(plan.known)
      const t3 = performance.now()
      return {
        stored: plan.runStarts.length + plan.steps.length + plan.completions.length,
        duplicate: plan.duplicates,
        ignored: plan.ignored,
        skipped,
        details: {
          contributions: plan.contributions.length,
          cachedRuns: knownRuns.size,
          ms: { load: Math.round(t1 - t0), plan: Math.round(t2 - t1), write: Math.round(t3 - t2) },
        },
      }
    },
  }
}
