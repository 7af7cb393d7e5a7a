/**
 * `npm run migrate`: applies pending Postgres and ClickHouse migrations (each once, under a lock)
 * with the same configuration as the server. Servers also apply them at start.
 */
import { ConfigError, loadConfig } from '../lib/config.ts'
import { createClickhouseClient } from '../lib/clickhouse.ts'
import { createLogger } from '../lib/logger.ts'
import { runMigrations } from '../lib/migrate.ts'
import { createPgPool } from '../lib/postgres.ts'

try {
  const config = loadConfig(process.env)
  const logger = createLogger({ level: 'info', name: 'migrate' })
  const pg = createPgPool({ url: config.postgres.url })
  const clickhouse = createClickhouseClient(config.clickhouse)
  try {
    const applied = await runMigrations({ pg, clickhouse, clickhouseDatabase: config.clickhouse.database, logger })
    console.log(`postgres: ${applied.postgres.length} applied; clickhouse: ${applied.clickhouse.length} applied`)
  } finally {
    await pg.end()
    await clickhouse.close()
  }
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err)
  process.exit(1)
}
