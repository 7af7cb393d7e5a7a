/**
 * A real Prometheus (Debian's `prometheus` package; scripts/prometheus-ensure.sh installs it) on a
 * free 127.0.0.1 port, scraping `target` every second with `ruleFiles` loaded, its config and
 * storage in a temp directory that close() removes.
 *
 *   const prom = await startPrometheus({ target: '127.0.0.1:8000', ruleFiles: ['deploy/prometheus/alerts.yml'] })
 *   const series = await prom.query('up')
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'

export interface PromSeries {
  metric: Record<string, string>
  value?: [number, string]
}

export const PROMETHEUS_JOB = 'sluice'

/** Installs prometheus and promtool when missing (Debian package), as the service scripts do. */
export async function ensurePrometheus(): Promise<void> {
  await promisify(execFile)('bash', ['scripts/prometheus-ensure.sh'], { timeout: 600_000 })
}

export async function startPrometheus(o: { target: string; ruleFiles: string[] }) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-prometheus-'))
  const configFile = join(dir, 'prometheus.yml')
  writeFileSync(
    configFile,
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      `rule_files: [${o.ruleFiles.map((f) => JSON.stringify(resolve(f))).join(', ')}]`,
      'scrape_configs:',
      `  - job_name: ${PROMETHEUS_JOB}`,
      `    static_configs: [{ targets: [${JSON.stringify(o.target)}] }]`,
      '',
    ].join('\n'),
  )
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const child = spawn(
    'prometheus',
    [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000)
  })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))

  async function api<T>(path: string): Promise<T> {
    const res = await fetch(`${url}${path}`)
    const body = (await res.json()) as { status: string; data: T; error?: string }
    if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? res.status}`)
    return body.data
  }

  async function close(): Promise<void> {
    if (child.exitCode === null) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    }
    rmSync(dir, { recursive: true, force: true })
  }

  try {
    await until(async () => (await fetch(`${url}/-/ready`).catch(() => null))?.ok === true, 20_000, () => `prometheus not ready: ${stderr}`)
  } catch (err) {
    await close()
    throw err
  }

  return {
    url,
    configFile,
    close,
    api,
    /** An instant query; throws when Prometheus refuses the expression. */
    async query(expr: string): Promise<PromSeries[]> {
      const data = await api<{ resultType: string; result: PromSeries[] | [number, string] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)
      return data.resultType === 'vector' || data.resultType === 'matrix' ? (data.result as PromSeries[]) : [{ metric: {}, value: data.result as [number, string] }]
    },
  }
}

export type RunningPrometheus = Awaited<ReturnType<typeof startPrometheus>>

/** Polls `probe` every 200 ms until it is true, or throws `message()` after `timeoutMs`. */
export async function until(probe: () => Promise<boolean>, timeoutMs: number, message: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(message())
    await new Promise((r) => setTimeout(r, 200))
  }
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const address = server.address()
  await new Promise((r) => server.close(r))
  if (typeof address !== 'object' || !address) throw new Error('no free port')
  return address.port
}
