import type { ClickHouseClient, ClickhouseTables } from './clickhouse.ts'

/**
 * Makes the logs table's TTL say `days`. Changes it only when it differs: MODIFY TTL rewrites
 * parts, which nobody wants at every start.
 */
export async function applyLogRetention(client: ClickHouseClient, tables: ClickhouseTables, days: number): Promise<boolean> {
  const rs = await client.query({
    query: `SELECT create_table_query AS q FROM system.tables WHERE database = {db:String} AND name = 'logs'`,
    query_params: { db: tables.database },
    format: 'JSONEachRow',
  })
  const create = (await rs.json<{ q: string }>())[0]?.q ?? ''
  const current = /TTL toDateTime\(received_at\) \+ (?:INTERVAL (\d+) DAY|toIntervalDay\((\d+)\))/.exec(create)
  const currentDays = Number(current?.[1] ?? current?.[2] ?? Number.NaN)
  if (currentDays === days) return false
  await client.command({ query: `ALTER TABLE ${tables.logs} MODIFY TTL toDateTime(received_at) + toIntervalDay(${Math.trunc(days)})` })
  return true
}
