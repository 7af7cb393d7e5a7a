import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { ClickHouseClient } from './clickhouse.ts'
import type { Logger } from './logger.ts'
import type { PgPool } from './postgres.ts'

const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations/', import.meta.url))
// One lock for both stores: two processes starting at once apply each file once, in order.
const LOCK_KEY = 7_305_162_201

export interface MigrationResult {
  postgres: string[]
  clickhouse: string[]
}

/** Applies pending Postgres and ClickHouse migrations, each once, under a Postgres advisory lock. */
export async function runMigrations(deps: {
  pg: PgPool | undefined
  clickhouse: ClickHouseClient | undefined
  clickhouseDatabase: string
  logger: Logger
}): Promise<MigrationResult> {
  // Without Postgres (a processor-only process) there is no lock to take; ClickHouse DDL is
  // idempotent (IF NOT EXISTS) and a repeated schema_migrations row collapses (ReplacingMergeTree).
  if (!deps.pg) {
    return { postgres: [], clickhouse: deps.clickhouse ? await applyClickhouse(deps.clickhouse, deps.clickhouseDatabase, deps.logger) : [] }
  }
  const lockClient = await deps.pg.connect()
  try {
    await lockClient.query('SELECT pg_advisory_lock($1)', [LOCK_KEY])
    const postgres = await applyPostgres(deps.pg, deps.logger)
    const clickhouse = deps.clickhouse ? await applyClickhouse(deps.clickhouse, deps.clickhouseDatabase, deps.logger) : []
    return { postgres, clickhouse }
  } finally {
    await lockClient.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => {})
    lockClient.release()
  }
}

async function migrationFiles(kind: 'postgres' | 'clickhouse'): Promise<string[]> {
  const names = await readdir(`${MIGRATIONS_DIR}${kind}`)
  return names.filter((n) => /^\d{4}_[a-z0-9_]+\.sql$/.test(n)).sort()
}

async function applyPostgres(pg: PgPool, logger: Logger): Promise<string[]> {
  await pg.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`)
  const done = new Set((await pg.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name))
  const applied: string[] = []
  for (const name of await migrationFiles('postgres')) {
    if (done.has(name)) continue
    const sql = await readFile(`${MIGRATIONS_DIR}postgres/${name}`, 'utf8')
    const client = await pg.connect()
    try {
      await client.query('BEGIN')
      await client.query(sql)
      await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [name])
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw new Error(`Postgres migration ${name} failed: ${(err as Error).message}`, { cause: err })
    } finally {
      client.release()
    }
    logger.info({ migration: name }, 'applied postgres migration')
    applied.push(name)
  }
  return applied
}

async function applyClickhouse(ch: ClickHouseClient, database: string, logger: Logger): Promise<string[]> {
  await ch.command({ query: `CREATE DATABASE IF NOT EXISTS \`${database}\`` })
  await ch.command({
    query: `CREATE TABLE IF NOT EXISTS \`${database}\`.schema_migrations (name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
            ENGINE = ReplacingMergeTree ORDER BY name`,
  })
  const rs = await ch.query({ query: `SELECT name FROM \`${database}\`.schema_migrations`, format: 'JSONEachRow' })
  const done = new Set((await rs.json<{ name: string }>()).map((r) => r.name))
  const applied: string[] = []
  for (const name of await migrationFiles('clickhouse')) {
    if (done.has(name)) continue
    const sql = (await readFile(`${MIGRATIONS_DIR}clickhouse/${name}`, 'utf8')).replaceAll('{db}', `\`${database}\``)
    // ClickHouse DDL is not transactional: statements use IF NOT EXISTS, so a file interrupted
    // half-way is safe to apply again.
    for (const statement of splitStatements(sql)) {
      try {
        await ch.command({ query: statement })
      } catch (err) {
        throw new Error(`ClickHouse migration ${name} failed: ${(err as Error).message}`, { cause: err })
      }
    }
    await ch.insert({ table: `\`${database}\`.schema_migrations`, values: [{ name }], format: 'JSONEachRow' })
    logger.info({ migration: name }, 'applied clickhouse migration')
    applied.push(name)
  }
  return applied
}

/** Splits a SQL file on semicolons at line ends, dropping comment-only pieces. */
export function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.split('\n').filter((line) => !line.trim().startsWith('--')).join('\n').trim())
    .filter((s) => s.length > 0)
}
