/**
 * `npm run stack`: Sluice with everything it needs on this machine, in one process.
 *
 * Starts (or finds) Kafka, Postgres and Redis — the ones not given by KAFKA_BROKERS, DATABASE_URL
 * and REDIS_URL — then every role (ingest, processors, query API) on PORT (8000), with ClickHouse
 * embedded unless CLICKHOUSE_URL is set. Prints the URL, the admin token and a curl to start from.
 * Ctrl-C stops it cleanly.
 *
 * Its embedded ClickHouse (unless SLUICE_CHDB_PATH is set) and its admin token live beside the
 * services' state, per user: `${SLUICE_HOME:-~/.cache/sluice}/state/stack/`. Postgres (projects,
 * keys, rules) and Kafka (events, the processors' offsets) are shared by every clone of the user,
 * so the ClickHouse the processors write to is too; a per-clone one would hold only part of the
 * runs that the shared offsets say were stored.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { ConfigError, loadConfig } from '../lib/config.ts'
import { startSluice } from '../server.ts'
import { VERSIONS } from '../lib/version.ts'
import { ensureServices, sluiceStateDir } from './local-services.ts'

const STACK_DIR = join(sluiceStateDir(), 'stack')
const TOKEN_FILE = join(STACK_DIR, 'admin-token')

async function main(): Promise<void> {
  const urls = await ensureServices(process.env)
  const adminToken = process.env.SLUICE_ADMIN_TOKEN || keptAdminToken()
  let config
  try {
    config = loadConfig({
      ...process.env,
      KAFKA_BROKERS: urls.kafkaBrokers,
      DATABASE_URL: urls.databaseUrl,
      REDIS_URL: urls.redisUrl,
      SLUICE_ADMIN_TOKEN: adminToken,
      SLUICE_CHDB_PATH: process.env.SLUICE_CHDB_PATH || join(STACK_DIR, 'chdb'),
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    })
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message)
      process.exit(2)
    }
    throw err
  }
  const sluice = await startSluice(config)
  const base = `http://localhost:${config.port}`
  console.log(`
Sluice ${VERSIONS.sluice} is running at ${base} on Node ${VERSIONS.node}  (roles: ${config.roles.join(', ')}; ClickHouse: ${config.clickhouse.url ?? `embedded at ${config.clickhouse.chdbPath}`})
Admin token: ${adminToken}${process.env.SLUICE_ADMIN_TOKEN ? '' : `   (generated once, kept in ${TOKEN_FILE})`}

Try it:
  curl -s -X POST ${base}/api/projects -H 'Authorization: Bearer ${adminToken}' \\
       -H 'Content-Type: application/json' -d '{"name": "shop"}'

Health ${base}/ready · metrics ${base}/metrics · Ctrl-C to stop.
`)
  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    console.log('\nstopping Sluice…')
    await sluice.close()
    console.log('stopped (Kafka, Postgres and Redis keep running; `npm run services:down` stops them)')
    process.exit(0)
  }
  process.on('SIGINT', () => void stop())
  process.on('SIGTERM', () => void stop())
}

function keptAdminToken(): string {
  if (existsSync(TOKEN_FILE)) return readFileSync(TOKEN_FILE, 'utf8').trim()
  mkdirSync(dirname(TOKEN_FILE), { recursive: true })
  const token = `sl_admin_${randomBytes(24).toString('base64url')}`
  writeFileSync(TOKEN_FILE, `${token}\n`, { mode: 0o600 })
  return token
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err)
  process.exit(1)
})
