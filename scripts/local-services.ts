/**
 * Local (Docker-free) Kafka, Postgres and Redis for development and tests.
 *
 * `ensureServices()` returns the connection settings for the three services: each one given in
 * the environment (KAFKA_BROKERS, DATABASE_URL, REDIS_URL) is used as is; the others are started,
 * if they are not running yet, by scripts/services-up.sh, whose stdout lines are parsed. Services
 * started this way keep running afterwards (stop them with `npm run services:down`).
 *
 *   node scripts/local-services.ts     # starts what is missing, prints the lines
 */
import { spawn } from 'node:child_process'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface ServiceUrls {
  kafkaBrokers: string
  databaseUrl: string
  redisUrl: string
}

export type ServiceName = 'kafka' | 'postgres' | 'redis'

const SERVICES: ReadonlyArray<{ name: ServiceName; envVar: string; key: keyof ServiceUrls }> = [
  { name: 'kafka', envVar: 'KAFKA_BROKERS', key: 'kafkaBrokers' },
  { name: 'postgres', envVar: 'DATABASE_URL', key: 'databaseUrl' },
  { name: 'redis', envVar: 'REDIS_URL', key: 'redisUrl' },
]

const SERVICES_UP = fileURLToPath(new URL('./services-up.sh', import.meta.url))

const DEFAULT_PORTS: Record<ServiceName, { envVar: string; port: string }> = {
  kafka: { envVar: 'SLUICE_KAFKA_PORT', port: '19092' },
  postgres: { envVar: 'SLUICE_PG_PORT', port: '55432' },
  redis: { envVar: 'SLUICE_REDIS_PORT', port: '56379' },
}

/** The per-user state directory of the local services: SLUICE_STATE in scripts/services-common.sh. */
export function sluiceStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const home = env.SLUICE_HOME || join(env.HOME || homedir(), '.cache', 'sluice')
  return join(home, 'state')
}

/** One service's state directory (pid file, data, logs): `service_dir` in scripts/services-common.sh. */
export function serviceStateDir(service: ServiceName, env: NodeJS.ProcessEnv = process.env): string {
  const { envVar, port } = DEFAULT_PORTS[service]
  return join(sluiceStateDir(env), `${service}-${env[envVar] || port}`)
}

export async function ensureServices(env: NodeJS.ProcessEnv = process.env): Promise<ServiceUrls> {
  const given: Partial<ServiceUrls> = {}
  const missing: ServiceName[] = []
  for (const service of SERVICES) {
    const value = env[service.envVar]?.trim()
    if (value) given[service.key] = value
    else missing.push(service.name)
  }
  const started = missing.length > 0 ? await runServicesUp(missing) : {}
  const urls: Partial<ServiceUrls> = { ...started, ...given }
  for (const service of SERVICES) {
    if (!urls[service.key]) {
      throw new Error(`${SERVICES_UP} printed no ${service.envVar}= line for ${service.name}`)
    }
  }
  return urls as ServiceUrls
}

/** Runs scripts/services-up.sh for the given services; its progress goes to our stderr. */
async function runServicesUp(services: ServiceName[]): Promise<Partial<ServiceUrls>> {
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = spawn('bash', [SERVICES_UP, ...services], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      out += chunk
    })
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (code === 0) resolve(out)
      else {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`
        reject(new Error(`bash ${SERVICES_UP} ${services.join(' ')} ${how} (its messages are on stderr above)`))
      }
    })
  })
  return parseServicesUpOutput(stdout)
}

/** Parses the `KAFKA_BROKERS=...` / `DATABASE_URL=...` / `REDIS_URL=...` lines. */
export function parseServicesUpOutput(stdout: string): Partial<ServiceUrls> {
  const urls: Partial<ServiceUrls> = {}
  for (const line of stdout.split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim())
    if (!match) continue
    const service = SERVICES.find((s) => s.envVar === match[1])
    if (service && match[2]) urls[service.key] = match[2]
  }
  return urls
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const urls = await ensureServices()
  process.stdout.write(
    `KAFKA_BROKERS=${urls.kafkaBrokers}\nDATABASE_URL=${urls.databaseUrl}\nREDIS_URL=${urls.redisUrl}\n`,
  )
}
