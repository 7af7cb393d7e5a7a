/**
 * A Sluice role in a child process (`node server.ts --role ...`), so the bench's
 * client and the server under test never share an event loop.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import type { Role } from '../../lib/config.ts'
import { sleep } from './load.ts'

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
// Node strips TypeScript types by itself from 22.18 on; an older Node (to compare figures across
// versions: `node --import tsx bench/...`) needs the tsx loader, a devDependency, in the children too.
const TYPESCRIPT_LOADER = (process.features as { typescript?: unknown }).typescript ? [] : ['--import', 'tsx']
const STOP_GRACE_MS = 20_000

export interface SluiceChild {
  name: string
  url: string
  pid: number
  logFile: string
  /** SIGTERM (server.ts shuts down in order, and --cpu-prof writes its profile), SIGKILL after a grace. */
  stop(): Promise<void>
  logTail(lines?: number): string
}

export interface SluiceChildOptions {
  name: string
  roles: readonly Role[]
  /** Added to this process's environment; PORT and HOST are chosen here. */
  env: Record<string, string>
  /** stdout and stderr of the child go here. */
  logFile: string
  /** Node flags before `server.ts`, e.g. `--cpu-prof`. */
  nodeArgs?: readonly string[]
  readyTimeoutMs?: number
  /** Called when the child exits without being asked to stop (after it listened or before). */
  onUnexpectedExit?: (exit: { code: number | null; signal: NodeJS.Signals | null; logTail: string }) => void
}

export async function startSluiceChild(options: SluiceChildOptions): Promise<SluiceChild> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const fd = openSync(options.logFile, 'a')
  const child: ChildProcess = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), ...TYPESCRIPT_LOADER, 'server.ts', '--role', options.roles.join(',')],
    { cwd: REPO_ROOT, env: { ...process.env, ...options.env, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', fd, fd] },
  )
  closeSync(fd)
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined
  let stopping = false
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal }
      if (!stopping) options.onUnexpectedExit?.({ code, signal, logTail: logTail(40) })
      resolve()
    })
  })
  const logTail = (lines = 20) => {
    try {
      return readFileSync(options.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
    } catch {
      return '(no log)'
    }
  }
  const stop = async () => {
    if (exited) return
    stopping = true
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
    await exit
    clearTimeout(timer)
  }

  const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000)
  for (;;) {
    if (exited) {
      throw new Error(`${options.name} exited (code ${exited.code}, signal ${exited.signal}) before listening:\n${logTail()}`)
    }
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`${options.name} did not answer /health on ${url} in time:\n${logTail()}`)
    }
    const ok = await fetch(`${url}/health`).then(
      (res) => res.ok,
      () => false,
    )
    if (ok) break
    await sleep(200)
  }
  return { name: options.name, url, pid: child.pid!, logFile: options.logFile, stop, logTail }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}
