/**
 * Runs Sluice as a child process (`node server.ts --role ...`), for tests that must
 * kill a process for real (SIGKILL: no shutdown hook runs, nothing is flushed) and start it again.
 *
 *   const ingest = await spawnSluice({ roles: ['ingest'], env })
 *   const processor = await spawnSluice({ roles: ['processor', 'query'], env })
 *   processor.kill('SIGKILL')
 *   await processor.stopped
 *
 * Every child still running when the test file ends is killed (afterAll in the test, and a
 * process 'exit' hook here as a last resort), so a failed test leaves no server behind.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Role } from '../../lib/config.ts'

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url))
// Enough to explain a failure; the oldest output is dropped past this.
const MAX_LOG_CHARS = 4 * 1024 * 1024
const MAX_LINES = 20_000
// The "sluice started" line is logged at info: a quieter level would hide the port.
const QUIET_LEVELS = new Set(['warn', 'error', 'fatal', 'silent'])
// What a child inherits from the test process; everything Sluice reads comes from `env`.
const INHERITED = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ', 'SYSTEMROOT']

/** A child process of Sluice, listening or not yet. */
export interface SpawnedSluice {
  pid: number
  kill(signal?: NodeJS.Signals): void
  /** Resolves when the process has exited: its exit code, or null when a signal ended it. */
  stopped: Promise<number | null>
  /** The signal that ended the process, once it has. */
  exitSignal(): NodeJS.Signals | null
  /** stdout and stderr so far, interleaved as they arrived (the last few MiB). */
  logs(): string
  /** Resolves with the first JSON log line of the child (already seen or still to come) for which `match` holds. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>
}

/** A child process of Sluice that has logged "sluice started". */
export interface ChildSluice extends SpawnedSluice {
  /** `http://127.0.0.1:<port>` */
  url: string
}

export interface SpawnSluiceOptions {
  roles: readonly Role[]
  env: Record<string, string>
  /** How long the child may take to log "sluice started". */
  startTimeoutMs?: number
  /** Called at once with the process, for a test that must be able to kill it before it listens. */
  onSpawn?: (child: SpawnedSluice) => void
}

const running = new Set<ChildProcess>()

process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/** Kills every child still running (SIGKILL) and waits until they are gone. For afterAll. */
export async function killAllSluiceChildren(): Promise<void> {
  const exits = [...running].map(
    (child) =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve())
        if (child.exitCode !== null || child.signalCode !== null) resolve()
        else child.kill('SIGKILL')
      }),
  )
  await Promise.all(exits)
}

/** Starts `server.ts` with the given roles and environment (PORT=0) and waits until it listens. */
export async function spawnSluice(options: SpawnSluiceOptions): Promise<ChildSluice> {
  const env: Record<string, string> = {}
  for (const name of INHERITED) {
    const value = process.env[name]
    if (value !== undefined) env[name] = value
  }
  // PORT=0 unless the test needs a fixed one (see ingest-workers.integration.test.ts).
  Object.assign(env, { PORT: '0' }, options.env)
  if (!env.LOG_LEVEL || QUIET_LEVELS.has(env.LOG_LEVEL)) env.LOG_LEVEL = 'info'

  const child = spawn(process.execPath, ['server.ts', '--role', options.roles.join(',')], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.add(child)

  let output = ''
  let exitSignal: NodeJS.Signals | null = null
  const lines: Array<Record<string, unknown>> = []
  const lineListeners = new Set<(line: Record<string, unknown>) => void>()
  const append = (text: string) => {
    output += text
    if (output.length > MAX_LOG_CHARS) output = output.slice(output.length - MAX_LOG_CHARS / 2)
  }
  const stopped = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child)
      exitSignal = signal
      append(`[child-sluice] pid ${child.pid} exited with ${signal ?? `code ${code}`}\n`)
      resolve(code)
    })
    // A process that could not be started emits 'error' and no 'exit'.
    child.once('error', (err) => {
      append(`[child-sluice] ${err.message}\n`)
      if (child.pid === undefined) {
        running.delete(child)
        resolve(null)
      }
    })
  })

  let partial = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    append(chunk)
    const complete = (partial + chunk).split('\n')
    partial = complete.pop() ?? ''
    for (const text of complete) {
      const line = parseJsonLine(text)
      if (!line) continue
      lines.push(line)
      if (lines.length > MAX_LINES) lines.splice(0, lines.length - MAX_LINES / 2)
      for (const listener of [...lineListeners]) listener(line)
    }
  })
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => append(chunk))

  const describe = () => `sluice --role ${options.roles.join(',')} (pid ${child.pid})`
  const logs = () => output

  function waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const seen = lines.find(match)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const done = (fn: () => void) => {
        clearTimeout(timer)
        lineListeners.delete(listener)
        fn()
      }
      const listener = (line: Record<string, unknown>) => {
        if (match(line)) done(() => resolve(line))
      }
      const timer = setTimeout(
        () => done(() => reject(new Error(`${describe()}: no matching log line within ${timeoutMs} ms. Output:\n${tail(output)}`))),
        timeoutMs,
      )
      lineListeners.add(listener)
      void stopped.then((code) => {
        if (lineListeners.has(listener)) {
          done(() => reject(new Error(`${describe()} exited (${exitSignal ?? `code ${code}`}) before a matching log line. Output:\n${tail(output)}`)))
        }
      })
    })
  }

  const spawned: SpawnedSluice = {
    pid: child.pid ?? -1,
    kill: (signal = 'SIGTERM') => {
      child.kill(signal)
    },
    stopped,
    exitSignal: () => exitSignal,
    logs,
    waitForLog,
  }
  options.onSpawn?.(spawned)

  let port: number
  try {
    const started = await waitForLog((line) => line.msg === 'sluice started' && typeof line.port === 'number', options.startTimeoutMs ?? 60_000)
    port = started.port as number
  } catch (err) {
    child.kill('SIGKILL')
    await stopped
    throw err
  }
  return { ...spawned, url: `http://127.0.0.1:${port}` }
}

function parseJsonLine(text: string): Record<string, unknown> | null {
  if (!text.startsWith('{')) return null
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null
  } catch {
    return null
  }
}

function tail(text: string, chars = 8_000): string {
  return text.length > chars ? `...${text.slice(text.length - chars)}` : text
}
