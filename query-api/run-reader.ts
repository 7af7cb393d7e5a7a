import type { ClickHouseClient, ClickhouseTables } from '../lib/clickhouse.ts'
import { iso, parseJson } from './query-params.ts'

/** A run as the contract shows it. */
export interface Run {
  id: string
  name: string
  status: 'RUNNING' | 'COMPLETED' | 'FAILED'
  total_cost: number | null
  tags: Record<string, string>
  started_at: string
  completed_at: string | null
  error: string | null
  created_at: string
  step_count: number
}

export interface Step {
  id: string
  step_id: string
  run_id: string
  name: string
  type: string
  inputs: unknown
  outputs: unknown
  metadata: unknown
  reasoning: string | null
  cost: number | null
  started_at: string | null
  completed_at: string | null
  error: string | null
  input_count: number | null
  output_count: number | null
  rejection_reasons: Record<string, number> | null
  created_at: string
}

export interface RunFilter {
  name?: string | undefined
  status?: 'RUNNING' | 'COMPLETED' | 'FAILED' | undefined
  tags: ReadonlyArray<[string, string]>
  from?: number | undefined
  to?: number | undefined
  /** Keyset paging: runs strictly older than this (started_at ms, run id). */
  before?: readonly [number, string] | undefined
  limit: number
}

interface RunRow {
  id: string
  name: string
  status: string | null
  total_cost: number | null
  tags: Record<string, string>
  started_ms: number
  completed_ms: number | null
  error: string | null
  created_ms: number
}

interface StepRow {
  step_id: string
  run_id: string
  name: string
  type: string
  inputs: string | null
  outputs: string | null
  metadata: string | null
  reasoning: string | null
  cost: number | null
  started_ms: number | null
  completed_ms: number | null
  error: string | null
  input_count: number | null
  output_count: number | null
  rejection_reasons: string | null
  created_ms: number
}

/** Reads runs and steps of one project. Every query is scoped by project id. */
export function createRunReader(options: { client: ClickHouseClient; tables: ClickhouseTables }) {
  const { client, tables: t } = options

  async function select<T>(query: string, params: Record<string, unknown>): Promise<T[]> {
    const rs = await client.query({ query, query_params: params, format: 'JSONEachRow', clickhouse_settings: { join_use_nulls: 1 } })
    return rs.json<T>()
  }

  const RUNS_SQL = (where: string, tail: string) => `
    SELECT s.run_id AS id, s.name AS name, c.status AS status, c.total_cost AS total_cost, s.tags AS tags,
           toUnixTimestamp64Milli(s.started_at) AS started_ms, toUnixTimestamp64Milli(c.completed_at) AS completed_ms,
           c.error AS error, toUnixTimestamp64Milli(s.received_at) AS created_ms
    FROM (SELECT * FROM ${t.runStarts} FINAL WHERE project_id = {p:String} ${where}) AS s
    LEFT JOIN (SELECT * FROM ${t.runCompletions} FINAL WHERE project_id = {p:String}) AS c ON c.run_id = s.run_id
    ${tail}`

  async function withStepTotals(projectId: string, rows: RunRow[]): Promise<Run[]> {
    if (rows.length === 0) return []
    const totals = await select<{ run_id: string; step_count: number; cost: number | null }>(
      `SELECT run_id, count() AS step_count, sumOrNull(cost) AS cost
       FROM ${t.steps} FINAL WHERE project_id = {p:String} AND run_id IN {ids:Array(String)} GROUP BY run_id`,
      { p: projectId, ids: rows.map((r) => r.id) },
    )
    const byRun = new Map(totals.map((x) => [x.run_id, x]))
    return rows.map((r) => {
      const steps = byRun.get(r.id)
      return {
        id: r.id,
        name: r.name,
        status: r.status === null ? 'RUNNING' : (r.status.toUpperCase() as Run['status']),
        total_cost: r.total_cost ?? (steps?.cost === null || steps?.cost === undefined ? null : Number(steps.cost)),
        tags: r.tags,
        started_at: iso(r.started_ms)!,
        completed_at: iso(r.completed_ms),
        error: r.error,
        created_at: iso(r.created_ms)!,
        step_count: Number(steps?.step_count ?? 0),
      }
    })
  }

  return {
    /** Newest first; one more row than `limit` is read to know whether a next page exists. */
    async listRuns(projectId: string, f: RunFilter): Promise<{ runs: Run[]; hasMore: boolean }> {
      const where: string[] = []
      const outer: string[] = []
      const params: Record<string, unknown> = { p: projectId, limit: f.limit + 1 }
      if (f.name !== undefined) {
        where.push('AND name = {name:String}')
        params.name = f.name
      }
      f.tags.forEach(([k, v], i) => {
        where.push(`AND tags[{tk${i}:String}] = {tv${i}:String} AND mapContains(tags, {tk${i}:String})`)
        params[`tk${i}`] = k
        params[`tv${i}`] = v
      })
      if (f.from !== undefined) {
        where.push('AND started_at >= fromUnixTimestamp64Milli({from:Int64}, \'UTC\')')
        params.from = f.from
      }
      if (f.to !== undefined) {
        where.push('AND started_at < fromUnixTimestamp64Milli({to:Int64}, \'UTC\')')
        params.to = f.to
      }
      if (f.before) {
        where.push(
          'AND (started_at < fromUnixTimestamp64Milli({bms:Int64}, \'UTC\') OR (started_at = fromUnixTimestamp64Milli({bms:Int64}, \'UTC\') AND run_id < {bid:String}))',
        )
        params.bms = f.before[0]
        params.bid = f.before[1]
      }
      if (f.status === 'RUNNING') outer.push('c.status IS NULL')
      else if (f.status) {
        outer.push('c.status = {status:String}')
        params.status = f.status.toLowerCase()
      }
      const rows = await select<RunRow>(
        RUNS_SQL(where.join(' '), `${outer.length ? `WHERE ${outer.join(' AND ')}` : ''} ORDER BY started_ms DESC, id DESC LIMIT {limit:UInt32}`),
        params,
      )
      const hasMore = rows.length > f.limit
      return { runs: await withStepTotals(projectId, rows.slice(0, f.limit)), hasMore }
    },

    async getRun(projectId: string, runId: string): Promise<Run | null> {
      const rows = await select<RunRow>(RUNS_SQL('AND run_id = {id:String}', 'LIMIT 1'), { p: projectId, id: runId })
      return (await withStepTotals(projectId, rows))[0] ?? null
    },

    /** Steps by start time, then by arrival (Kafka offset). */
    async listSteps(projectId: string, runId: string, page: { offset: number; limit: number }): Promise<{ steps: Step[]; hasMore: boolean }> {
      const rows = await select<StepRow>(
        `SELECT step_id, run_id, name, type, inputs, outputs, metadata, reasoning, cost,
                toUnixTimestamp64Milli(started_at) AS started_ms, toUnixTimestamp64Milli(completed_at) AS completed_ms,
                error, input_count, output_count, rejection_reasons, toUnixTimestamp64Milli(received_at) AS created_ms
         FROM ${t.steps} FINAL WHERE project_id = {p:String} AND run_id = {id:String}
         ORDER BY coalesce(started_at, completed_at, event_time), kafka_partition, kafka_offset
         LIMIT {limit:UInt32} OFFSET {offset:UInt32}`,
        { p: projectId, id: runId, limit: page.limit + 1, offset: page.offset },
      )
      const hasMore = rows.length > page.limit
      return { steps: rows.slice(0, page.limit).map(toStep), hasMore }
    },
  }
}

export type RunReader = ReturnType<typeof createRunReader>

function toStep(r: StepRow): Step {
  return {
    id: r.step_id,
    step_id: r.step_id,
    run_id: r.run_id,
    name: r.name,
    type: r.type,
    inputs: parseJson(r.inputs),
    outputs: parseJson(r.outputs),
    metadata: parseJson(r.metadata),
    reasoning: r.reasoning,
    cost: r.cost === null ? null : Number(r.cost),
    started_at: iso(r.started_ms),
    completed_at: iso(r.completed_ms),
    error: r.error,
    input_count: r.input_count === null ? null : Number(r.input_count),
    output_count: r.output_count === null ? null : Number(r.output_count),
    rejection_reasons: parseJson(r.rejection_reasons) as Record<string, number> | null,
    created_at: iso(r.created_ms)!,
  }
}
