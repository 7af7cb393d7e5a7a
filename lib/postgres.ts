import pg from 'pg'

export type PgPool = pg.Pool

export function createPgPool(options: { url: string; max?: number }): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max ?? 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: 15_000,
  })
  // An idle client's error (server restart) must not crash the process; the next query reconnects.
  pool.on('error', () => {})
  // TRICKY: a client checked out of the pool (a transaction between two statements) whose
  // connection drops emits 'error' on itself, not on the pool, and with no listener that error
  // would end the process. The caller's next query on it fails instead, and is handled there.
  pool.on('connect', (client) => {
    client.on('error', () => {})
  })
  return pool
}

export type PgClient = pg.PoolClient

/**
 * Runs `fn` in one transaction on one pooled client: COMMIT when it resolves, ROLLBACK when it
 * throws (the error is rethrown).
 *
 * @example
 *   await withTransaction(pool, async (client) => { await client.query('...'); await writeAudit(client, entry) })
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    const result = await fn(client)
    await client.query('COMMIT')
    return result
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  } finally {
    client.release()
  }
}
