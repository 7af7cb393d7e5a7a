import { createClient, type ClickHouseClient } from '@clickhouse/client'
import { createRequire } from 'node:module'

// TRICKY: chdb's native engine is loaded only by the code that opens it. A worker thread that never
// uses ClickHouse (the reactions processor's) must not load the addon: its teardown when the thread
// ends may take the process's one embedded engine down with it (a "server is shutting down" seen once
// in test/graceful-shutdown.e2e.test.ts, where a second Sluice reopens the engine in the same process).
const load = createRequire(import.meta.url)

export type { ClickHouseClient }

export interface ClickhouseOptions {
  /** A ClickHouse server; when absent, an embedded engine (chdb) in this process. */
  url: string | undefined
  user: string
  password: string
  /** On-disk path of the embedded engine. One process owns it at a time. */
  chdbPath: string
  /** Embedded engine only: sessions of their own that take inserts (default 0: inserts share the query session). */
  insertLanes?: number
}

/**
 * The same @clickhouse/client either way, so the SQL is the same against a server and embedded.
 * Table names in SQL are always qualified with the database (see `ClickhouseTables`), because the
 * embedded connection ignores the client's `database` option.
 */
export function createClickhouseClient(options: ClickhouseOptions): ClickHouseClient {
  const clickhouse_settings = {
    // Numbers come back as JSON numbers from both the server and chdb.
    output_format_json_quote_64bit_integers: 0 as const,
    date_time_output_format: 'iso' as const,
  }
  if (options.url) {
    return createClient({
      url: options.url,
      username: options.user,
      password: options.password,
      clickhouse_settings,
      request_timeout: 30_000,
    })
  }
  // chdb types its Connection against @clickhouse/client-common, which @clickhouse/client now
  // bundles; the two declarations are the same shape.
  const { createChdbConnection } = load('chdb/connection') as typeof import('chdb/connection')
  const open = () => createChdbConnection({ path: options.chdbPath })
  const asConnection = (c: import('chdb/connection').ChdbConnection) => c as unknown as NonNullable<Parameters<typeof createClient>[0]>['connection']
  const chdb = open()
  const client = createClient({ connection: asConnection(chdb), clickhouse_settings })
  // An empty path is a temporary directory of each session's own: no other session can share it.
  const shareable = options.chdbPath !== ''
  // TRICKY: the embedded engine runs one query at a time per session (connection), and chdb's node
  // binding runs every parameterized query of the process one at a time, whatever the session (it
  // works around a race in the engine's parameter state). A query with no parameters (its values
  // escaped into the SQL: `sqlString`) on another session runs beside them: that is the side
  // session, for `queryPlainRows`. docs/performance.md, "a side session for plain reads".
  const side = shareable ? createClient({ connection: asConnection(open()), clickhouse_settings }) : undefined
  if (side) sideSessions.set(client, side)
  // Inserts take no parameters either: on sessions of their own (insert lanes) they neither wait
  // behind the query API's reads nor make those reads wait. On two cores that made reads under
  // write load 6-9x faster but runs 1.8x less fresh (the reads no longer wait, so they take the CPU
  // the processors need): off by default. docs/performance.md, "Insert lanes"; `npm run bench:lanes`.
  const lanes = shareable ? (options.insertLanes ?? 0) : 0
  const pool = lanes > 0 ? insertLanePool(lanes, open) : undefined
  rawInserts.set(client, pool ? pool.insert : (params) => chdb.chdb.rawInsert(params))
  const close = client.close.bind(client)
  client.close = async () => {
    await close()
    await side?.close()
    await pool?.close()
  }
  return client
}

/** Sessions that take inserts, each insert on the least busy one. */
function insertLanePool(count: number, open: () => import('chdb/connection').ChdbConnection) {
  const lanes = Array.from({ length: count }, () => ({ conn: open(), busy: 0 }))
  return {
    async insert(params: Parameters<RawInsert>[0]) {
      const lane = lanes.reduce((a, b) => (b.busy < a.busy ? b : a))
      lane.busy++
      try {
        return await lane.conn.chdb.rawInsert(params)
      } finally {
        lane.busy--
      }
    },
    async close() {
      for (const lane of lanes) await lane.conn.close()
    },
  }
}

type RawInsert = (params: { table: string; columns: readonly string[]; values: Buffer; format: 'JSONCompactEachRow'; settings?: Record<string, number> }) => Promise<unknown>
// The embedded engine's own insert, per client: it takes the body as one Buffer.
const rawInserts = new WeakMap<ClickHouseClient, RawInsert>()
// The embedded engine's side session, per client: a client of its own on the same data directory.
const sideSessions = new WeakMap<ClickHouseClient, ClickHouseClient>()
const PLAIN_NAME = /^`([A-Za-z0-9_]+)`\.`([A-Za-z0-9_]+)`$/

/**
 * Inserts rows (arrays in `columns` order) as JSONCompactEachRow. Into the embedded engine the body
 * is built as one Buffer and handed over as it is (no stream, no copy into the SQL text, off the
 * JS heap); into a server, through the client's own encoding. One INSERT either way.
 */
export async function insertCompactRows(
  client: ClickHouseClient,
  insert: { table: string; columns: readonly string[]; rows: readonly unknown[][]; settings?: Record<string, number> },
): Promise<void> {
  const { table, columns, rows, settings } = insert
  const raw = rawInserts.get(client)
  const name = PLAIN_NAME.exec(table)
  if (!raw || !name) {
    await client.insert({ table, values: rows as unknown[], columns: columns as [string, ...string[]], format: 'JSONCompactEachRow', ...(settings ? { clickhouse_settings: settings } : {}) })
    return
  }
  let body = ''
  for (const row of rows) body += JSON.stringify(row) + '\n'
  await raw({ table: `${name[1]}.${name[2]}`, columns, values: Buffer.from(body), format: 'JSONCompactEachRow', ...(settings ? { settings } : {}) })
}

/**
 * A read with its values already in the SQL (escaped with `sqlString`), as JSONEachRow
 * rows. On the embedded engine it runs on the side session: beside the query session's work and
 * outside chdb's process-wide queue of parameterized queries, so it waits only for other plain
 * reads. Against a server, an ordinary query of the client.
 */
export async function queryPlainRows<T>(client: ClickHouseClient, sql: string): Promise<T[]> {
  const rs = await (sideSessions.get(client) ?? client).query({ query: sql, format: 'JSONEachRow' })
  return rs.json<T>()
}

/** A ClickHouse string literal: backslash and quote escaped, every other byte as it is. */
export function sqlString(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`
}

/** Fully qualified table names of one Sluice database. */
export function clickhouseTables(database: string) {
  const q = (name: string) => `\`${database}\`.\`${name}\``
  return {
    database,
    runStarts: q('run_starts'),
    runCompletions: q('run_completions'),
    steps: q('steps'),
    funnelRollup: q('pipeline_funnel_rollup'),
    runKeys: q('run_keys'),
    runList: q('run_list'),
    runIndex: q('run_index'),
    runOutcomes: q('run_outcomes'),
    runState: q('run_state'),
    runStateInput: q('run_state_input'),
    openRuns: q('open_runs'),
    funnelSteps: q('funnel_steps'),
    logs: q('logs'),
    migrations: q('schema_migrations'),
  }
}

export type ClickhouseTables = ReturnType<typeof clickhouseTables>
