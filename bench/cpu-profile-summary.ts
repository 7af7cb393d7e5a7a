/**
 * Where a process spent its CPU, from a V8 `.cpuprofile` (`node --cpu-prof`): time by package or
 * project file, both self (the frame itself was running) and total (the frame was anywhere on the
 * stack, e.g. `ingest/event-schema.ts` total includes the zod it calls), as shares of busy time.
 * Some builtins (JSON.parse among them) get no frame of their own: their time is their caller's self.
 *
 *   node bench/cpu-profile-summary.ts /tmp/x.cpuprofile
 *
 * `npm run bench:ingest -- --profile` profiles the ingest child and prints this at the end.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const REPO_URL = new URL('../', import.meta.url).href

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

export interface ProfileSummary {
  /** Sampled time, and the part of it that was not `(idle)`, in ms. */
  sampledMs: number
  busyMs: number
  /** Shares of busy time, largest first. */
  selfByCategory: Array<[string, number]>
  totalByCategory: Array<[string, number]>
  selfByFunction: Array<[string, number]>
}

const PSEUDO_FRAMES = new Set(['(root)', '(program)', '(idle)', '(garbage collector)'])
/** Frames under nearly every async stack: their totals say nothing, so they are left out of totals. */
const PLUMBING = new Set(['(root)', '(builtin or generated)', 'node:internal/process', 'node:internal/timers'])

/** `zod`, `@fastify/error`, `ingest/event-schema.ts`, `node:zlib`, `(garbage collector)`... */
export function categoryOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame
  // No script: V8 builtins, and code made at run time (avsc compiles its readers and writers).
  if (url === '') return PSEUDO_FRAMES.has(functionName) ? functionName : '(builtin or generated)'
  const nm = url.lastIndexOf('node_modules/')
  if (nm >= 0) {
    const parts = url.slice(nm + 'node_modules/'.length).split('/')
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!
  }
  if (url.startsWith('node:internal/')) return `node:internal/${url.slice('node:internal/'.length).split('/')[0]!.replace(/\.js$/, '')}`
  if (url.startsWith('node:')) return url
  if (url.startsWith(REPO_URL)) return url.slice(REPO_URL.length)
  return url
}

/** A frame's file, shortened: `kafkajs/src/protocol/encoder.js`, `ingest/event-schema.ts`. */
function whereOf(frame: ProfileNode['callFrame']): string {
  const nm = frame.url.lastIndexOf('node_modules/')
  if (nm >= 0) return frame.url.slice(nm + 'node_modules/'.length)
  if (frame.url.startsWith(REPO_URL)) return frame.url.slice(REPO_URL.length)
  return frame.url || categoryOf(frame)
}

export function summarizeCpuProfile(profile: CpuProfile): ProfileSummary {
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const node of profile.nodes) {
    byId.set(node.id, node)
    for (const child of node.children ?? []) parent.set(child, node.id)
  }
  const self = new Map<string, number>()
  const total = new Map<string, number>()
  const fn = new Map<string, number>()
  let sampled = 0
  let idle = 0
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v)

  profile.samples.forEach((id, i) => {
    // A sample lasts until the next one.
    const us = profile.timeDeltas[i + 1] ?? 0
    const node = byId.get(id)
    if (!node) return
    sampled += us
    const category = categoryOf(node.callFrame)
    if (category === '(idle)') {
      idle += us
      return
    }
    add(self, category, us)
    const { functionName, lineNumber } = node.callFrame
    add(fn, `${functionName || '(anonymous)'} ${whereOf(node.callFrame)}:${lineNumber + 1}`, us)
    const onStack = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)
      if (frame) onStack.add(categoryOf(frame.callFrame))
    }
    for (const c of PLUMBING) onStack.delete(c)
    for (const c of onStack) add(total, c, us)
  })

  const busy = sampled - idle
  const shares = (m: Map<string, number>) =>
    [...m.entries()].map(([k, v]) => [k, busy > 0 ? v / busy : 0] as [string, number]).sort((a, b) => b[1] - a[1])
  return {
    sampledMs: sampled / 1000,
    busyMs: busy / 1000,
    selfByCategory: shares(self),
    totalByCategory: shares(total),
    selfByFunction: shares(fn),
  }
}

export function formatProfileSummary(summary: ProfileSummary, top = 15): string[] {
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)} %`
  const lines = [
    `sampled ${(summary.sampledMs / 1000).toFixed(1)} s, busy (not idle) ${(summary.busyMs / 1000).toFixed(1)} s; shares of busy time`,
    '',
    `${'total (on the stack)'.padEnd(40)} self (running)`,
  ]
  for (let i = 0; i < top; i++) {
    const t = summary.totalByCategory[i]
    const s = summary.selfByCategory[i]
    const left = t ? `${pct(t[1])}  ${t[0]}` : ''
    const right = s ? `${pct(s[1])}  ${s[0]}` : ''
    if (!left && !right) break
    lines.push(`${left.padEnd(40)} ${right}`)
  }
  lines.push('', 'hottest functions (self)')
  for (const [name, share] of summary.selfByFunction.slice(0, top)) lines.push(`${pct(share)}  ${name}`)
  return lines
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2]
  if (!file) {
    console.error('usage: node bench/cpu-profile-summary.ts <file.cpuprofile>')
    process.exit(2)
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  console.log(formatProfileSummary(summarizeCpuProfile(profile)).join('\n'))
}
