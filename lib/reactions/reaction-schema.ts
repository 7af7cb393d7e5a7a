import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { CONDITION_OPS, compileConditions, ConditionError } from './conditions.ts'

/** The contract's Reaction, validated. Unknown fields are refused so a typo never goes unnoticed. */

const fieldPath = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'must be a dot path like attributes.region')

const condition = z.strictObject({
  field: fieldPath,
  op: z.enum(CONDITION_OPS),
  value: z.unknown().optional(),
})

const webhookUrl = z
  .string()
  .max(2000)
  .refine((s) => {
    try {
      const u = new URL(s)
      return (u.protocol === 'https:' || u.protocol === 'http:') && u.username === '' && u.password === ''
    } catch {
      return false
    }
  }, 'must be an http(s) URL without credentials')

const action = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('complaint') }),
  z.strictObject({
    type: z.literal('webhook'),
    url: webhookUrl,
    secret: z.string().min(8).max(200).optional(),
  }),
])

export const SEVERITIES = ['info', 'warning', 'error', 'critical'] as const

const fields = {
  name: z.string().trim().min(1).max(200),
  enabled: z.boolean(),
  event_type: z.enum(['log', 'step_complete', 'run_complete']),
  conditions: z.array(condition).max(20),
  threshold: z.strictObject({
    count: z.number().int().min(1).max(1_000_000),
    window_seconds: z.number().int().min(1).max(7 * 86_400).default(60),
  }),
  group_by: z.array(fieldPath).max(5),
  cooldown_seconds: z.number().int().min(0).max(30 * 86_400),
  severity: z.enum(SEVERITIES),
  actions: z.array(action).max(10),
}

export const createReactionBody = z.strictObject({
  project_id: z.string().optional(),
  name: fields.name,
  enabled: fields.enabled.default(true),
  event_type: fields.event_type,
  conditions: fields.conditions.default([]),
  threshold: fields.threshold.default({ count: 1, window_seconds: 60 }),
  group_by: fields.group_by.default([]),
  cooldown_seconds: fields.cooldown_seconds.default(0),
  severity: fields.severity.default('error'),
  actions: fields.actions.default([{ type: 'complaint' }]),
})

export const patchReactionBody = z
  .strictObject({
    name: fields.name.optional(),
    enabled: fields.enabled.optional(),
    event_type: fields.event_type.optional(),
    conditions: fields.conditions.optional(),
    threshold: fields.threshold.optional(),
    group_by: fields.group_by.optional(),
    cooldown_seconds: fields.cooldown_seconds.optional(),
    severity: fields.severity.optional(),
    actions: fields.actions.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'nothing to change')

export type ReactionInput = z.infer<typeof createReactionBody>
export type ReactionAction = z.infer<typeof action>

/** Checks what zod cannot: conditions compile (patterns run in linear time). Returns a message or null. */
export function conditionProblem(conditions: ReactionInput['conditions']): string | null {
  try {
    compileConditions(conditions)
    return null
  } catch (err) {
    if (err instanceof ConditionError) return err.message
    throw err
  }
}

/** Webhook actions without a secret get one, shown in the response like any other field. */
export function withSecrets(actions: readonly ReactionAction[]): ReactionAction[] {
  return actions.map((a) => (a.type === 'webhook' && !a.secret ? { ...a, secret: `whsec_${randomBytes(24).toString('base64url')}` } : a))
}
