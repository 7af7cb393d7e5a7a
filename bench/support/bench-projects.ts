/**
 * Projects and reaction rules for a bench run, made through Sluice's own code: POST /api/projects on
 * an ingest child (admin token) and the reaction store, with the route's own body schema.
 */
import { createReactionBody } from '../../lib/reactions/reaction-schema.ts'
import type { ReactionStore } from '../../lib/reactions/reaction-store.ts'
import type { HttpClient } from './load.ts'

export interface BenchProject {
  id: string
  ingest_key: string
  query_key: string
}

export async function createBenchProject(http: HttpClient, adminToken: string, name: string): Promise<BenchProject> {
  const res = await http.post(
    '/api/projects',
    { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    Buffer.from(JSON.stringify({ name })),
  )
  if (res.status !== 201) throw new Error(`POST /api/projects answered ${res.status}: ${res.text}`)
  return JSON.parse(res.text) as BenchProject
}

/**
 * Two rules a real project would have, so the reactions processor evaluates every log and step: a
 * burst of error logs per service, and steps that drop most of their input, per step name.
 * Complaints only (no webhooks leave the machine). Returns the reactions' ids.
 */
export async function createBenchReactions(store: ReactionStore, projectId: string): Promise<string[]> {
  const rules = [
    {
      name: 'bench: error logs per service',
      event_type: 'log',
      conditions: [{ field: 'level', op: 'eq', value: 'error' }],
      group_by: ['service'],
      threshold: { count: 50, window_seconds: 60 },
      cooldown_seconds: 60,
      severity: 'error',
    },
    {
      name: 'bench: step drops most of its input',
      event_type: 'step_complete',
      conditions: [{ field: 'drop_rate', op: 'gt', value: 0.6 }],
      group_by: ['name'],
      threshold: { count: 100, window_seconds: 60 },
      cooldown_seconds: 60,
      severity: 'warning',
    },
  ]
  const ids: string[] = []
  for (const rule of rules) ids.push((await store.create(projectId, createReactionBody.parse(rule), BENCH_AUDIT)).id)
  return ids
}

/** Who the audit log names for the bench's own rule changes. */
export const BENCH_AUDIT = { actor: { kind: 'admin' as const, key_id: null }, requestId: 'bench-processor' }
