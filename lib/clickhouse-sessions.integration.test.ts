import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testEnv } from '../test/helpers/test-sluice.ts'
import { createClickhouseClient, insertCompactRows, queryPlainRows, sqlString, type ClickHouseClient } from './clickhouse.ts'

// Inserts on sessions of their own (SLUICE_CHDB_INSERT_LANES) land in the engine the query session
// and the side session read: every row of inserts sent at once is there, once, as soon as each
// insert resolved.
describe.skipIf(Boolean(testEnv().CLICKHOUSE_URL))('embedded ClickHouse sessions: insert lanes and the side session', () => {
  const database = `sluice_lanes_${randomUUID().replaceAll('-', '').slice(0, 12)}`
  const table = `\`${database}\`.\`rows\``
  let client: ClickHouseClient

  beforeAll(async () => {
    client = createClickhouseClient({ url: undefined, user: 'default', password: '', chdbPath: testEnv().SLUICE_CHDB_PATH!, insertLanes: 2 })
    await client.command({ query: `CREATE DATABASE IF NOT EXISTS \`${database}\`` })
    await client.command({ query: `CREATE TABLE ${table} (batch UInt32, n UInt32, label String) ENGINE = MergeTree ORDER BY (batch, n)` })
  })

  afterAll(async () => {
    await client.command({ query: `DROP DATABASE IF EXISTS \`${database}\`` })
    await client.close()
  })

  it('stores every row of concurrent inserts, visible to the query session when they resolve', async () => {
    const batches = Array.from({ length: 6 }, (_, batch) => Array.from({ length: 500 }, (_, n) => [batch, n, `row ${batch}/${n}`]))
    await Promise.all(batches.map((rows) => insertCompactRows(client, { table, columns: ['batch', 'n', 'label'], rows })))
    const rs = await client.query({ query: `SELECT batch, count() AS c, uniqExact(n) AS u, any(label) LIKE 'row %' AS ok FROM ${table} GROUP BY batch ORDER BY batch`, format: 'JSONEachRow' })
    expect(await rs.json()).toEqual(batches.map((_, batch) => ({ batch, c: 500, u: 500, ok: 1 })))
  })

  it('runs plain reads on the side session, seeing what the lanes inserted', async () => {
    const rows = await queryPlainRows<{ batch: number; c: number }>(client, `SELECT batch, count() AS c FROM ${table} WHERE label IN (${sqlString('row 2/7')}, ${sqlString('row 4/9')}) GROUP BY batch ORDER BY batch`)
    expect(rows).toEqual([{ batch: 2, c: 1 }, { batch: 4, c: 1 }])
  })

  // Plain reads inline their values: any string must come back as it went in.
  it('reads back any string as a literal', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ unit: 'binary', maxLength: 40 }), { minLength: 1, maxLength: 5 }), async (values) => {
        const literals = values.map(sqlString).join(', ')
        const rows = await queryPlainRows<{ v: string; hit: number }>(client, `SELECT v, v IN (${literals}) AS hit FROM (SELECT arrayJoin([${literals}]) AS v)`)
        expect(rows).toEqual(values.map((v) => ({ v, hit: 1 })))
      }),
      { numRuns: 100 },
    )
  })
})
