/**
 * Reads the shared test vectors of sdk/testdata and plays their scripts through the public API
 * (the format is in sdk/testdata/README.md; the Python tests play the same files).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { expect } from 'vitest'
import type { LogEntry, Run, Sluice, Step } from '../../src/index.ts'

export const TESTDATA = fileURLToPath(new URL('../../../testdata/', import.meta.url))

export function readVectors<T>(folder: 'tracing' | 'delivery'): Array<[string, T]> {
  const dir = `${TESTDATA}${folder}/`
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [f, JSON.parse(readFileSync(dir + f, 'utf8')) as T])
}

export function readDefaults(): Record<string, unknown> {
  return JSON.parse(readFileSync(`${TESTDATA}defaults.json`, 'utf8')) as Record<string, unknown>
}

/** `flush_at` → `flushAt`. */
export function camel(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
}

/** `00000000-0000-4000-8000-000000000001`, `...002`, ... */
export function sequentialIds(): () => string {
  let n = 0
  return () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`
}

/** The number at the end of a sequential id. */
export function idNumber(id: string): number {
  return Number(id.slice(-12))
}

/** A clock that stands still until advanced. */
export function fixedClock(startIso: string) {
  let now = Date.parse(startIso)
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms
    },
  }
}

export class ScriptError extends Error {}

export interface TracingVector {
  description: string
  clock_start: string
  script: Op[]
  events: unknown[]
}

export interface DeliveryVector {
  description: string
  options: Record<string, number | boolean>
  events: number
  responses: Array<{ status: number; body?: unknown; headers?: Record<string, string> }>
  expect: { requests: number[][]; dropped: Record<string, number[]>; sent: number }
}

interface Op {
  op: string
  body?: Op[]
  raises?: string
  catch?: boolean
  ms?: number
  name?: string
  type?: string
  tags?: Record<string, string>
  run_id?: string
  value?: unknown
  candidates?: Array<{ id: unknown; verdict: unknown }>
  kept?: unknown[]
  level?: LogEntry['level']
  message?: string
  service?: string
  attributes?: Record<string, unknown>
}

interface Scope {
  sluice: Sluice
  clock: ReturnType<typeof fixedClock>
  run?: Run
  step?: Step
}

/** Plays a tracing script. */
export async function play(ops: readonly Op[], scope: Scope): Promise<void> {
  for (const op of ops) {
    switch (op.op) {
      case 'advance':
        scope.clock.advance(op.ms!)
        break
      case 'run':
        await outcome(
          op,
          scope.sluice.run({ name: op.name!, tags: op.tags, runId: op.run_id }, (run) => play(op.body ?? [], { ...scope, run })),
        )
        break
      case 'step':
        if (!scope.run) throw new Error('a step op outside a run op')
        await outcome(
          op,
          scope.run.step({ name: op.name!, type: op.type }, (step) => play(op.body ?? [], { ...scope, step })),
        )
        break
      case 'input':
        currentStep(scope).input(op.value as Record<string, unknown>)
        break
      case 'output':
        currentStep(scope).output(op.value as Record<string, unknown>)
        break
      case 'metadata':
        currentStep(scope).metadata(op.value as Record<string, unknown>)
        break
      case 'reasoning':
        currentStep(scope).reasoning(op.value as string)
        break
      case 'cost':
        currentStep(scope).cost(op.value as number)
        break
      case 'process_candidates': {
        const kept = currentStep(scope).processCandidates(op.candidates!, (c) => c.verdict)
        expect(kept.map((c) => c.id)).toEqual(op.kept)
        break
      }
      case 'throw':
        throw new ScriptError(op.message!)
      case 'log':
        scope.sluice.log({ level: op.level!, message: op.message!, service: op.service, attributes: op.attributes })
        break
      default:
        throw new Error(`unknown op ${op.op}`)
    }
  }
}

function currentStep(scope: Scope): Step {
  if (!scope.step) throw new Error('a step op outside a step')
  return scope.step
}

async function outcome(op: Op, running: Promise<unknown>): Promise<void> {
  if (op.raises === undefined) {
    await running
    return
  }
  const err = await running.then(
    () => new Error(`expected ${op.op} ${op.name} to throw "${op.raises}"`),
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(ScriptError)
  expect((err as Error).message).toBe(op.raises)
  if (!op.catch) throw err
}
