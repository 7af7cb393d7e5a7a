import { randomUUID } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testEnv } from '../test/helpers/test-sluice.ts'
import { testServices } from '../test/helpers/services.ts'
import { createClickhouseClient, type ClickHouseClient } from './clickhouse.ts'
import { createLogger } from './logger.ts'
import { runMigrations, splitStatements } from './migrate.ts'
import { createPgPool, type PgPool } from './postgres.ts'

describe('migrations', () => {
  const dbName = `sluice_migrate_${randomUUID().replaceAll('-', '').slice(0, 12)}`
  let admin: PgPool
  let pg: PgPool
  let clickhouse: ClickHouseClient
  const logger = createLogger({ level: 'silent' })

  beforeAll(async () => {
    // A database of its own, so "applied once" is shown from an empty start.
    admin = createPgPool({ url: testServices().databaseUrl })
    await admin.query(`CREATE DATABASE ${dbName}`)
    const url = new URL(testServices().databaseUrl)
    url.pathname = `/${dbName}`
    pg = createPgPool({ url: url.toString() })
    const env = testEnv()
    clickhouse = createClickhouseClient({
      url: env.CLICKHOUSE_URL,
      user: 'default',
      password: '',
      chdbPath: env.SLUICE_CHDB_PATH ?? '',
    })
  })

  afterAll(async () => {
    await pg?.end()
    await admin?.query(`DROP DATABASE IF EXISTS ${dbName}`)
    await admin?.end()
    await clickhouse?.command({ query: `DROP DATABASE IF EXISTS ${dbName}` })
    await clickhouse?.close()
  })

  it('applies each file once, in order, when two processes start at the same time', async () => {
    const pgFiles = (await readdir('migrations/postgres')).filter((f) => f.endsWith('.sql')).sort()
    const chFiles = (await readdir('migrations/clickhouse')).filter((f) => f.endsWith('.sql')).sort()
    expect(pgFiles.length).toBeGreaterThan(0)
    const [a, b] = await Promise.all([
      runMigrations({ pg, clickhouse, clickhouseDatabase: dbName, logger }),
      runMigrations({ pg, clickhouse, clickhouseDatabase: dbName, logger }),
    ])
    const appliedPg = [...a.postgres, ...b.postgres].sort()
    const appliedCh = [...a.clickhouse, ...b.clickhouse].sort()
    expect(appliedPg).toEqual(pgFiles)
    expect(appliedCh).toEqual(chFiles)
    const again = await runMigrations({ pg, clickhouse, clickhouseDatabase: dbName, logger })
    expect(again).toEqual({ postgres: [], clickhouse: [] })
    const { rows } = await pg.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY name')
    expect(rows.map((r) => r.name)).toEqual(pgFiles)
    const tables = await clickhouse.query({ query: `SHOW TABLES FROM ${dbName}`, format: 'JSONEachRow' })
    expect((await tables.json<{ name: string }>()).map((t) => t.name).sort()).toEqual([
      'funnel_steps',
      'logs',
      'open_runs',
      'pipeline_funnel_rollup',
      'run_completions',
      'run_index',
      'run_index_mv',
      'run_keys',
      'run_list',
      'run_list_mv',
      'run_outcomes',
      'run_outcomes_mv',
      'run_starts',
      'run_state',
      'run_state_input',
      'run_state_input_mv',
      'schema_migrations',
      'steps',
    ])
  })

  it('fills run_keys from the runs, steps and completions stored before it existed (0003)', async () => {
    // Rows as an older Sluice left them, then 0003 applied again over them.
    await clickhouse.command({
      query: `INSERT INTO ${dbName}.steps (project_id, run_id, step_id, event_id, name, type, event_time, received_at, kafka_partition, kafka_offset)
              VALUES ('p', 'run-with-a-step', 's', 'e1', 'rank', 'llm', now64(3), now64(3), 0, 1)`,
    })
    await clickhouse.command({
      query: `INSERT INTO ${dbName}.run_completions (project_id, run_id, event_id, status, completed_at, received_at, kafka_partition, kafka_offset)
              VALUES ('p', 'run-completed', 'e2', 'completed', now64(3), now64(3), 0, 2)`,
    })
    await clickhouse.command({ query: `TRUNCATE TABLE ${dbName}.run_keys` })
    await clickhouse.command({ query: `ALTER TABLE ${dbName}.schema_migrations DELETE WHERE name = '0003_run_keys.sql' SETTINGS mutations_sync = 2` })
    const applied = await runMigrations({ pg, clickhouse, clickhouseDatabase: dbName, logger })
    expect(applied.clickhouse).toEqual(['0003_run_keys.sql'])
    const rs = await clickhouse.query({ query: `SELECT DISTINCT run_id FROM ${dbName}.run_keys ORDER BY run_id`, format: 'JSONEachRow' })
    expect((await rs.json<{ run_id: string }>()).map((r) => r.run_id)).toEqual(['run-completed', 'run-with-a-step'])
  })

  it('copies the runs, completions and steps stored before the read tables existed into them (0005), each once', async () => {
    // Rows as an older Sluice left them (written twice, as a replay would), then 0005 applied over them.
    const start = `('p5', 'old-run', 'e1', 'recs', map('env', 'prod'), '2026-11-01 10:00:00.000', '2026-11-01 10:00:00.020', 0, 1)`
    await clickhouse.command({ query: `INSERT INTO ${dbName}.run_starts VALUES ${start}, ${start}` })
    await clickhouse.command({
      query: `INSERT INTO ${dbName}.run_completions (project_id, run_id, event_id, status, completed_at, error, total_cost, received_at, kafka_partition, kafka_offset)
              VALUES ('p5', 'old-run', 'e2', 'failed', '2026-11-01 10:00:05.000', 'boom', NULL, now64(3), 0, 3)`,
    })
    const step = `('p5', 'old-run', 's1', 'e3', 'rank', 'llm', 0.25, '2026-11-01 10:00:01.000', '2026-11-01 10:00:02.000', 10, 4, now64(3), now64(3), 0, 2)`
    await clickhouse.command({
      query: `INSERT INTO ${dbName}.steps (project_id, run_id, step_id, event_id, name, type, cost, started_at, completed_at, input_count, output_count, event_time, received_at, kafka_partition, kafka_offset)
              VALUES ${step}, ${step}`,
    })
    // step_facts is gone since 0006; applying 0005 again makes it again.
    for (const table of ['run_list', 'run_index', 'run_outcomes', 'run_state', 'step_facts']) await clickhouse.command({ query: `TRUNCATE TABLE IF EXISTS ${dbName}.${table}` })
    await clickhouse.command({ query: `ALTER TABLE ${dbName}.schema_migrations DELETE WHERE name = '0005_run_read_tables.sql' SETTINGS mutations_sync = 2` })
    const applied = await runMigrations({ pg, clickhouse, clickhouseDatabase: dbName, logger })
    expect(applied.clickhouse).toEqual(['0005_run_read_tables.sql'])
    const one = async (sql: string) => (await (await clickhouse.query({ query: sql, format: 'JSONEachRow' })).json<Record<string, unknown>>())
    expect(await one(`SELECT run_id, name, tags, toUnixTimestamp64Milli(started_at) AS ms FROM ${dbName}.run_list FINAL WHERE project_id = 'p5'`)).toEqual([
      { run_id: 'old-run', name: 'recs', tags: { env: 'prod' }, ms: Date.UTC(2026, 10, 1, 10) },
    ])
    expect(await one(`SELECT term_kind, term_key, term_value, run_id FROM ${dbName}.run_index FINAL WHERE project_id = 'p5' ORDER BY term_kind`)).toEqual([
      { term_kind: 'name', term_key: '', term_value: 'recs', run_id: 'old-run' },
      { term_kind: 'tag', term_key: 'env', term_value: 'prod', run_id: 'old-run' },
    ])
    expect(await one(`SELECT run_id, status, error FROM ${dbName}.run_outcomes FINAL WHERE project_id = 'p5'`)).toEqual([
      { run_id: 'old-run', status: 'failed', error: 'boom' },
    ])
    expect(
      await one(
        `SELECT any(start) AS start, any(completion) AS completion, length(maxMap(steps).1) AS steps, arraySum(maxMap(step_costs).2) AS cost
         FROM ${dbName}.run_state WHERE project_id = 'p5' GROUP BY run_id`,
      ),
    ).toEqual([
      {
        start: JSON.stringify(['recs', { env: 'prod' }, Date.UTC(2026, 10, 1, 10), Date.UTC(2026, 10, 1, 10, 0, 0, 20)]),
        completion: JSON.stringify(['failed', Date.UTC(2026, 10, 1, 10, 0, 5), 'boom', null]),
        steps: 1,
        cost: 0.25,
      },
    ])
    expect(await one(`SELECT step_id, name, cost, input_count, output_count FROM ${dbName}.step_facts FINAL WHERE project_id = 'p5'`)).toEqual([
      { step_id: 's1', name: 'rank', cost: 0.25, input_count: 10, output_count: 4 },
    ])
    // And from now on the views copy what the processor writes.
    await clickhouse.command({
      query: `INSERT INTO ${dbName}.run_completions (project_id, run_id, event_id, status, completed_at, received_at, kafka_partition, kafka_offset)
              VALUES ('p5', 'new-run', 'e4', 'completed', now64(3), now64(3), 0, 9)`,
    })
    expect(await one(`SELECT run_id, status FROM ${dbName}.run_outcomes FINAL WHERE project_id = 'p5' ORDER BY run_id`)).toEqual([
      { run_id: 'new-run', status: 'completed' },
      { run_id: 'old-run', status: 'failed' },
    ])
  })

  it('lists the runs stored without a completion before open_runs existed as open (0008), and no other', async () => {
    // Runs as an older Sluice left them: one completed, one not (its start written twice, as a replay would).
    const start = (run: string, minute: number) =>
      `('p8', '${run}', 'e-${run}', 'recs', map('env', 'prod'), '2026-11-01 10:0${minute}:00.000', '2026-11-01 10:0${minute}:00.020', 0, ${minute})`
    await clickhouse.command({ query: `INSERT INTO ${dbName}.run_starts VALUES ${start('done', 1)}, ${start('open', 2)}, ${start('open', 2)}` })
    await clickhouse.command({
      query: `INSERT INTO ${dbName}.run_completions (project_id, run_id, event_id, status, completed_at, received_at, kafka_partition, kafka_offset)
              VALUES ('p8', 'done', 'e-c', 'completed', '2026-11-01 10:01:05.000', now64(3), 0, 5)`,
    })
    await clickhouse.command({ query: `TRUNCATE TABLE ${dbName}.open_runs` })
    await clickhouse.command({ query: `ALTER TABLE ${dbName}.schema_migrations DELETE WHERE name = '0008_open_runs.sql' SETTINGS mutations_sync = 2` })
    const applied = await runMigrations({ pg, clickhouse, clickhouseDatabase: dbName, logger })
    expect(applied.clickhouse).toEqual(['0008_open_runs.sql'])
    const rs = await clickhouse.query({
      query: `SELECT run_id, name, tags, toUnixTimestamp64Milli(started_at) AS ms FROM ${dbName}.open_runs FINAL WHERE project_id = 'p8' AND closed = 0`,
      format: 'JSONEachRow',
    })
    expect(await rs.json()).toEqual([{ run_id: 'open', name: 'recs', tags: { env: 'prod' }, ms: Date.UTC(2026, 10, 1, 10, 2) }])
  })

  it('splits SQL files into statements and drops comments', () => {
    expect(splitStatements('-- a comment\nCREATE TABLE a (x int);\n\n-- b\nCREATE TABLE b (y int);\n')).toEqual([
      'CREATE TABLE a (x int)',
      'CREATE TABLE b (y int)',
    ])
  })
})
