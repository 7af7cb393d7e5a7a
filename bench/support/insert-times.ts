/**
 * Where a processor's write time goes: the child's `sluice_clickhouse_insert_duration_seconds`
 * histogram, read from its /metrics before and after a window, as inserts and ms per table.
 */
import type { HttpClient } from './load.ts'

export type InsertTotals = Map<string, { count: number; seconds: number }>

export async function insertTotals(http: HttpClient): Promise<InsertTotals> {
  const res = await http.get('/metrics', {})
  const totals: InsertTotals = new Map()
  const line = /^sluice_clickhouse_insert_duration_seconds_(sum|count)\{table="([^"]+)"\} ([0-9.e+-]+)$/
  for (const text of res.text.split('\n')) {
    const m = line.exec(text)
    if (!m) continue
    const t = totals.get(m[2]!) ?? { count: 0, seconds: 0 }
    if (m[1] === 'sum') t.seconds = Number(m[3])
    else t.count = Number(m[3])
    totals.set(m[2]!, t)
  }
  return totals
}

/** "table: inserts, mean ms" for what happened between two readings, the costliest first. */
export function insertTimesBetween(before: InsertTotals, after: InsertTotals, windowSeconds: number): string {
  const rows = [...after].map(([table, a]) => {
    const b = before.get(table) ?? { count: 0, seconds: 0 }
    return { table, count: a.count - b.count, seconds: a.seconds - b.seconds }
  })
  const busy = rows.reduce((s, r) => s + r.seconds, 0)
  return (
    `inserting ${Math.round((busy / windowSeconds) * 100)}% of the window; ` +
    rows
      .filter((r) => r.count > 0)
      .sort((x, y) => y.seconds - x.seconds)
      .map((r) => `${r.table} ${r.count}× ${((r.seconds * 1000) / r.count).toFixed(1)} ms`)
      .join(', ')
  )
}
