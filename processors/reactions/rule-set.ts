import { createHash } from 'node:crypto'
import { compileConditions, readPath, type CompiledCondition, type EventView } from '../../lib/reactions/conditions.ts'
import type { Reaction, ReactionStore } from '../../lib/reactions/reaction-store.ts'
import type { Logger } from '../../lib/logger.ts'

export interface CompiledReaction {
  reaction: Reaction
  test: CompiledCondition
}

/** Enabled rules by project and event type, compiled once per version of the rule set. */
export interface RuleSet {
  version: number
  rulesFor(projectId: string, eventType: string): readonly CompiledReaction[]
}

/**
 * Keeps the compiled rule set current. `refresh()` costs one indexed read of the version row and
 * reloads everything only when it moved; called once per batch, it makes a rule change apply to
 * every event acknowledged after the change's response (those events are fetched after it).
 */
export function createRuleCache(options: { store: ReactionStore; logger: Logger }) {
  let current: RuleSet = { version: -1, rulesFor: () => [] }
  return {
    async refresh(): Promise<RuleSet> {
      const version = await options.store.version()
      if (version === current.version) return current
      const loaded = await options.store.loadEnabled()
      // Never step back to an older rule set, whatever order two refreshes finish in.
      if (loaded.version <= current.version) return current
      const byKey = new Map<string, CompiledReaction[]>()
      for (const reaction of loaded.reactions) {
        let test: CompiledCondition
        try {
          test = compileConditions(reaction.conditions)
        } catch (err) {
          // Validated on write; a rule that no longer compiles (a library change) is skipped, loudly.
          options.logger.error({ err, reaction: reaction.id }, 'reaction does not compile; skipped')
          continue
        }
        const k = `${reaction.project_id}|${reaction.event_type}`
        const list = byKey.get(k) ?? []
        list.push({ reaction, test })
        byKey.set(k, list)
      }
      current = { version: loaded.version, rulesFor: (projectId, eventType) => byKey.get(`${projectId}|${eventType}`) ?? [] }
      options.logger.info({ version: loaded.version, rules: loaded.reactions.length }, 'reaction rules loaded')
      return current
    },
  }
}

/** A rule's fingerprint: its id plus the values of its group_by fields in this event. */
export function fingerprintOf(reaction: Reaction, view: EventView): { fingerprint: string; group: Record<string, unknown> } {
  const group: Record<string, unknown> = {}
  for (const field of reaction.group_by) group[field] = readPath(view, field.split('.')) ?? null
  const values = reaction.group_by.map((f) => group[f])
  const digest = createHash('sha256').update(JSON.stringify(values)).digest('hex').slice(0, 24)
  return { fingerprint: `${reaction.id}:${digest}`, group }
}
