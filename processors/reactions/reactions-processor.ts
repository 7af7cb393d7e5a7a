import { runStartedAt } from '../../lib/event-types.ts'
import type { Logger } from '../../lib/logger.ts'
import type { Metrics } from '../../lib/metrics.ts'
import type { PgPool } from '../../lib/postgres.ts'
import { eventView } from '../../lib/reactions/event-view.ts'
import { createReactionStore } from '../../lib/reactions/reaction-store.ts'
import type { Redis } from '../../lib/redis.ts'
import { defineProcessor, type ProcessorInstance } from '../define-processor.ts'
import type { PositionedEvent } from '../positioned-events.ts'
import { createComplaintWriter, type RuleMatch, type WriteOutcome } from './complaint-writer.ts'
import { createRuleCache, fingerprintOf, type RuleSet } from './rule-set.ts'

const RUN_START_TTL_SECONDS = 2 * 86_400

/**
 * Every event → the enabled reaction rules of its project; matches go to the complaint writer
 * (Postgres: matches, complaints, webhook outbox) before the flush is committed.
 */
export const reactionsProcessor = defineProcessor({
  name: 'reactions',
  group: (config) => config.processor.reactionsGroup,
  eventTypes: ['run_start', 'step_complete', 'run_complete', 'log'],
  uses: ['postgres', 'redis'],
  create: ({ services, wakeWebhooks }) =>
    createReactionsHandler({
      rules: createRuleCache({ store: createReactionStore(services.pg), logger: services.logger.child({ processor: 'reactions' }) }),
      writeMatches: createComplaintWriter({ pg: services.pg, metrics: services.metrics }),
      pg: services.pg,
      redis: services.redis,
      metrics: services.metrics,
      logger: services.logger.child({ processor: 'reactions' }),
      onComplaintOpened: wakeWebhooks,
    }),
})

export function createReactionsHandler(deps: {
  rules: { refresh(): Promise<RuleSet> }
  writeMatches: (matches: readonly RuleMatch[]) => Promise<WriteOutcome>
  pg: PgPool
  redis: Redis
  metrics: Metrics
  logger: Logger
  onComplaintOpened?: () => void
}): ProcessorInstance {
  const { redis, metrics, logger } = deps
  const runStartKey = (projectId: string, runId: string) => `sluice:run-start:${projectId}:${runId}`

  /** Run starts are remembered (Redis, short-lived) so a run_complete rule can use duration_ms. */
  async function rememberRunStarts(events: readonly PositionedEvent[]): Promise<void> {
    const pipeline = redis.pipeline()
    let n = 0
    for (const { event: e } of events) {
      if (e.type !== 'run_start') continue
      pipeline.set(runStartKey(e.project_id, e.payload.run_id), String(runStartedAt(e)), 'EX', RUN_START_TTL_SECONDS)
      n++
    }
    if (n === 0) return
    // TRICKY: a pipeline resolves even when its commands failed (Redis unreachable): each result
    // carries its own error. A start not remembered would silently make duration rules miss.
    const results = (await pipeline.exec()) ?? []
    const failed = results.find(([err]) => err)
    if (failed) throw failed[0]
  }

  async function runStartsOf(events: readonly PositionedEvent[], ruleSet: RuleSet): Promise<Map<string, number>> {
    const startedAt = new Map<string, number>()
    const keys: string[] = []
    for (const { event: e } of events) {
      if (e.type === 'run_complete' && ruleSet.rulesFor(e.project_id, 'run_complete').length > 0) keys.push(runStartKey(e.project_id, e.payload.run_id))
    }
    if (keys.length === 0) return startedAt
    const values = await redis.mget(...keys)
    keys.forEach((k, i) => values[i] && startedAt.set(k, Number(values[i])))
    return startedAt
  }

  return {
    async probe() {
      await Promise.all([deps.pg.query('SELECT 1'), redis.ping()])
    },
    async handle({ events }) {
      const ruleSet = await deps.rules.refresh()
      await rememberRunStarts(events)
      const startedAt = await runStartsOf(events, ruleSet)

      const matches: RuleMatch[] = []
      let evaluated = 0
      let ignored = 0
      for (const { event } of events) {
        const rules = ruleSet.rulesFor(event.project_id, event.type)
        if (rules.length === 0) {
          ignored++
          continue
        }
        const runStart = event.type === 'run_complete' ? (startedAt.get(runStartKey(event.project_id, event.payload.run_id)) ?? null) : null
        const view = eventView(event, runStart)
        if (!view) continue
        for (const { reaction, test } of rules) {
          evaluated++
          if (!test(view)) continue
          const { fingerprint, group } = fingerprintOf(reaction, view)
          matches.push({
            reaction,
            eventId: event.id,
            fingerprint,
            group,
            receivedAt: event.received_at,
            sampleEvent: { id: event.id, type: event.type, timestamp: new Date(event.timestamp).toISOString(), data: view },
          })
        }
      }
      metrics.rulesEvaluated.inc(evaluated)
      const outcome = matches.length > 0 ? await deps.writeMatches(matches) : { counted: 0, duplicates: 0, opened: [] }
      if (outcome.opened.length > 0) {
        logger.info({ complaints: outcome.opened.map((o) => o.complaintId) }, 'complaints opened')
        deps.onComplaintOpened?.()
      }
      return {
        stored: events.length - ignored,
        duplicate: 0,
        ignored,
        details: { evaluated, matches: matches.length, counted: outcome.counted, matchDuplicates: outcome.duplicates, opened: outcome.opened.length },
      }
    },
  }
}
