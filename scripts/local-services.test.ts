/**
 * scripts/local-services.ts and scripts/services-common.sh without starting anything: the
 * services-up.sh output parser, where the services' state lives (per user and port, the same for
 * every clone, in bash and in TypeScript), and the message for a port someone else holds.
 */
import { execFile, execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { parseServicesUpOutput, serviceStateDir, sluiceStateDir, type ServiceName } from './local-services.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const temp = mkdtempSync(join(tmpdir(), 'sluice-local-services-'))
afterAll(() => rmSync(temp, { recursive: true, force: true }))

const SERVICE_ENV = ['SLUICE_HOME', 'SLUICE_KAFKA_PORT', 'SLUICE_PG_PORT', 'SLUICE_REDIS_PORT']

/** process.env without the variables that move the state or the ports, plus `extra`. */
function envWith(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const name of SERVICE_ENV) delete env[name]
  return { ...env, ...extra }
}

/** `service_dir <service>` as scripts/services-common.sh in the clone at `root` computes it. */
function bashServiceDir(root: string, service: ServiceName, env: NodeJS.ProcessEnv): string {
  const common = join(root, 'scripts/services-common.sh')
  return execFileSync('bash', ['-c', `source ${JSON.stringify(common)}; service_dir ${service}`], { env })
    .toString()
    .trim()
}

describe('parseServicesUpOutput', () => {
  it('reads the three connection lines and ignores everything else', () => {
    const out = [
      'KAFKA_BROKERS=127.0.0.1:19092',
      '[services] noise',
      'DATABASE_URL=postgres://sluice:sluice@127.0.0.1:55432/sluice',
      '  REDIS_URL=redis://127.0.0.1:56379  ',
      'OTHER=1',
      'KAFKA_BROKERS=',
    ].join('\n')
    expect(parseServicesUpOutput(out)).toEqual({
      kafkaBrokers: '127.0.0.1:19092',
      databaseUrl: 'postgres://sluice:sluice@127.0.0.1:55432/sluice',
      redisUrl: 'redis://127.0.0.1:56379',
    })
  })
})

describe('where the services keep their state', () => {
  it('per user (SLUICE_HOME, else ~/.cache/sluice) and per port, not per clone', () => {
    const home = join(temp, 'home')
    expect(sluiceStateDir(envWith({ HOME: home }))).toBe(join(home, '.cache/sluice/state'))
    expect(sluiceStateDir(envWith({ HOME: home, SLUICE_HOME: join(temp, 'sh') }))).toBe(join(temp, 'sh/state'))
    expect(serviceStateDir('kafka', envWith({ HOME: home }))).toBe(join(home, '.cache/sluice/state/kafka-19092'))
    expect(serviceStateDir('redis', envWith({ HOME: home, SLUICE_REDIS_PORT: '56479' }))).toBe(
      join(home, '.cache/sluice/state/redis-56479'),
    )
  })

  it('bash agrees with TypeScript, and a second clone finds the same directories', () => {
    // A second "clone": the same script in another directory.
    const clone = join(temp, 'clone2')
    mkdirSync(join(clone, 'scripts'), { recursive: true })
    copyFileSync(join(ROOT, 'scripts/services-common.sh'), join(clone, 'scripts/services-common.sh'))
    const envs = [
      envWith({ HOME: join(temp, 'home') }),
      envWith({ HOME: join(temp, 'home'), SLUICE_HOME: join(temp, 'sh'), SLUICE_KAFKA_PORT: '29092', SLUICE_PG_PORT: '55532' }),
    ]
    for (const env of envs) {
      for (const service of ['kafka', 'postgres', 'redis'] as const) {
        const expected = serviceStateDir(service, env)
        expect(bashServiceDir(ROOT, service, env)).toBe(expected)
        expect(bashServiceDir(clone, service, env)).toBe(expected)
      }
    }
  })
})

describe('a port held by a process these scripts did not start', () => {
  it('fails at once, naming the process and the variable that picks another port', async () => {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    try {
      const env = envWith({ SLUICE_HOME: join(temp, 'busy'), SLUICE_REDIS_PORT: String(port) })
      const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = execFile('bash', [join(ROOT, 'scripts/redis-up.sh')], { env, timeout: 30_000 }, (err, stdout, stderr) =>
          resolve({ code: err ? (child.exitCode ?? 1) : 0, stdout, stderr }),
        )
      })
      expect(result.code).not.toBe(0)
      expect(result.stdout).toBe('')
      expect(result.stderr).toContain(`[redis] ERROR: 127.0.0.1:${port} is in use by a process these scripts did not start`)
      expect(result.stderr).toContain(`SLUICE_REDIS_PORT=<port>`)
      // `ss` shows the listener's pid for our own processes (and for all of them as root).
      const ss = (() => {
        try {
          execFileSync('ss', ['-V'], { stdio: 'ignore' })
          return true
        } catch {
          return false
        }
      })()
      if (ss) expect(result.stderr).toContain(`(pid ${process.pid}`)
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
