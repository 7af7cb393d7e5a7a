/**
 * What the bench ran on, and how busy each process was: on a small machine the client, the server,
 * the broker and the processor share the same cores, and the figures mean little without that.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { serviceStateDir } from '../../scripts/local-services.ts'

const KAFKA_UP = fileURLToPath(new URL('../../scripts/kafka-up.sh', import.meta.url))
/** Per user, shared by every clone (scripts/services-common.sh). */
const KAFKA_PID_FILE = join(serviceStateDir('kafka'), 'kafka.pid')

export function describeMachine(options: { externalKafka: boolean }): string[] {
  const cpus = os.cpus()
  const models = [...new Set(cpus.map((c) => c.model.trim()))].join(', ')
  const kafka = options.externalKafka ? 'external broker (KAFKA_BROKERS given)' : `Apache Kafka ${localKafkaVersion()}, local KRaft single broker (scripts/kafka-up.sh)`
  return [
    `cpu:     ${cpus.length} x ${models}`,
    `memory:  ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB total, ${(os.freemem() / 2 ** 30).toFixed(1)} GiB free`,
    `os:      ${os.type()} ${os.release()} (${os.arch()}), load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    `node:    ${process.version}`,
    `kafka:   ${kafka}`,
  ]
}

function localKafkaVersion(): string {
  try {
    return /^KAFKA_VERSION=(\S+)/m.exec(readFileSync(KAFKA_UP, 'utf8'))?.[1] ?? 'unknown version'
  } catch {
    return 'unknown version'
  }
}

/** The local broker's JVM, when scripts/kafka-up.sh started it. */
export function localKafkaPid(): number | undefined {
  try {
    const pid = Number(readFileSync(KAFKA_PID_FILE, 'utf8').trim())
    return Number.isInteger(pid) && pid > 0 && cpuSeconds(pid) !== undefined ? pid : undefined
  } catch {
    return undefined
  }
}

let clockTicks: number | undefined

/** User + system CPU seconds a process has used so far (Linux /proc); undefined elsewhere. */
export function cpuSeconds(pid: number): number | undefined {
  if (pid === process.pid) {
    const u = process.cpuUsage()
    return (u.user + u.system) / 1e6
  }
  try {
    const fields = statFields(pid)
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    // Its own time, its children's that exited (cutime, cstime), and its live descendants' (an
    // ingest role with SLUICE_INGEST_WORKERS is a primary and its cluster workers).
    let ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])
    for (const child of descendants(pid)) {
      try {
        const f = statFields(child)
        ticks += Number(f[11]) + Number(f[12])
      } catch {
        // exited meanwhile: its time is in its parent's cutime from now on
      }
    }
    return ticks / clockTicks
  } catch {
    return undefined
  }
}

/** Fields of /proc/<pid>/stat after the command name (which is in parentheses and may hold spaces). */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

function descendants(pid: number): number[] {
  const found: number[] = []
  const stack = [pid]
  while (stack.length > 0) {
    const p = stack.pop()!
    let children: string
    try {
      children = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8')
    } catch {
      continue
    }
    for (const c of children.split(' ').filter(Boolean).map(Number)) {
      found.push(c)
      stack.push(c)
    }
  }
  return found
}

/** CPU seconds the whole machine spent busy (all cores, /proc/stat), or undefined off Linux. */
function machineBusySeconds(): number | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
    // user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait.
    const busy = cpu.slice(0, 8).reduce((a, v, i) => (i === 3 || i === 4 ? a : a + v), 0)
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    return busy / clockTicks
  } catch {
    return undefined
  }
}

const MACHINE = '(machine)'

export type CpuSnapshot = Map<string, number | undefined>

export function cpuSnapshot(pids: ReadonlyMap<string, number | undefined>): CpuSnapshot {
  const snapshot: CpuSnapshot = new Map()
  for (const [name, pid] of pids) snapshot.set(name, pid === undefined ? undefined : cpuSeconds(pid))
  snapshot.set(MACHINE, machineBusySeconds())
  return snapshot
}

/** CPU seconds one named process used over one or more [from, to] snapshot pairs. */
export function cpuUsed(windows: ReadonlyArray<readonly [CpuSnapshot, CpuSnapshot]>, name: string): number | undefined {
  let total = 0
  for (const [from, to] of windows) {
    const before = from.get(name)
    const after = to.get(name)
    if (before === undefined || after === undefined) return undefined
    total += after - before
  }
  return total
}

/**
 * Share of one core each process used over one or more [from, to] snapshot pairs, e.g.
 * `ingest 97%`, then `others`: what the rest of the machine (other users of a shared box, the
 * kernel's network work) used meanwhile.
 */
export function cpuShares(windows: ReadonlyArray<readonly [CpuSnapshot, CpuSnapshot]>, seconds: number): string {
  const used = new Map<string, number>()
  for (const [from, to] of windows) {
    for (const [name, before] of from) {
      const after = to.get(name)
      if (before === undefined || after === undefined) continue
      used.set(name, (used.get(name) ?? 0) + after - before)
    }
  }
  const parts: string[] = []
  let ours = 0
  for (const [name, cpu] of used) {
    if (name === MACHINE) continue
    ours += cpu
    parts.push(`${name} ${Math.round((cpu / seconds) * 100)}%`)
  }
  const machine = used.get(MACHINE)
  if (machine !== undefined) parts.push(`others ${Math.max(0, Math.round(((machine - ours) / seconds) * 100))}%`)
  return parts.join(', ')
}

/**
 * Resident memory of a process now and at its peak (VmRSS, VmHWM in /proc/<pid>/status), and now
 * split into anonymous (heaps, buffers) and file-backed pages (mapped code: libchdb.so is 0.5 GiB), in bytes.
 */
export function residentBytes(pid: number): { rss: number; peak: number; anon: number; file: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024
    return { rss: kib('VmRSS'), peak: kib('VmHWM'), anon: kib('RssAnon'), file: kib('RssFile') }
  } catch {
    return undefined
  }
}

export interface MemoryPeaks {
  /** Highest resident memory seen (VmHWM included). */
  peak: number
  /** Highest anonymous resident memory seen, and the file-backed part at that moment. */
  peakAnon: number
  fileAtPeakAnon: number
}

/** Samples a process's resident memory every `everyMs`; `stop()` returns the highest seen. */
export function sampleResidentMemory(pid: number, everyMs: number): { stop(): MemoryPeaks } {
  const peaks: MemoryPeaks = { peak: 0, peakAnon: 0, fileAtPeakAnon: 0 }
  const take = () => {
    const m = residentBytes(pid)
    if (!m) return
    peaks.peak = Math.max(peaks.peak, m.rss, Number.isFinite(m.peak) ? m.peak : 0)
    if (m.anon > peaks.peakAnon) {
      peaks.peakAnon = m.anon
      peaks.fileAtPeakAnon = m.file
    }
  }
  const timer = setInterval(take, everyMs)
  take()
  return {
    stop() {
      take()
      clearInterval(timer)
      return peaks
    },
  }
}
