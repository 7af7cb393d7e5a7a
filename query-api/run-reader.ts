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
  step_count: number | null
  step_cost: number | null
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

/** Candidates read per status-filtered page before falling back to the status's set of runs. */
const STATUS_CANDIDATES = 4

/**
 * Reads runs and steps of one project. Every query is scoped by project id.
 *
 * Lists read `run_list` (every run_start, ordered by start time) in key order, so a page is one
 * ordered read however large the project; its runs' completions (`run_outcomes`) and step totals
 * (`step_facts`) are point reads of the page's ids, in the same query. See
 * migrations/clickhouse/0005_run_read_tables.sql.
 */
export function createRunReader(options: { client: ClickHouseClient; tables: ClickhouseTables }) {
  const { client, tables: t } = options

  async function select<T>(query: string, params: Record<string, unknown>): Promise<T[]> {
    const rs = await client.query({ query, query_params: params, format: 'JSONEachRow', clickhouse_settings: { join_use_nulls: 1 } })
    return rs.json<T>()
  }

  /** The completion of the runs `ids` selects (a subquery or an array parameter). */
  const outcomesOf = (ids: string) => `
    SELECT run_id, status, toUnixTimestamp64Milli(completed_at) AS completed_ms, error, total_cost
    FROM ${t.runOutcomes} FINAL
    WHERE project_id = {p:String} AND status IN ('completed', 'failed') AND run_id IN ${ids}`

  /** Step count and summed cost of the runs `ids` selects; a step replayed into two rows counts once. */
  const stepTotalsOf = (ids: string) => `
    SELECT run_id, count() AS step_count, sumOrNull(cost) AS step_cost
    FROM (SELECT run_id, step_id, any(cost) AS cost FROM ${t.stepFacts}
          WHERE project_id = {p:String} AND run_id IN ${ids} GROUP BY run_id, step_id)
    GROUP BY run_id`

  const RUN_COLUMNS = `r.run_id AS id, r.name AS name, o.status AS status, o.total_cost AS total_cost, r.tags AS tags,
    toUnixTimestamp64Milli(r.started_at) AS started_ms, o.completed_ms AS completed_ms, o.error AS error,
    toUnixTimestamp64Milli(r.received_at) AS created_ms`

  /** Runs in `from` (a subquery aliased r with run_id, name, tags, started_at, received_at) with their completion and step totals. */
  const withState = (from: string, ids: string, tail: string) => `
    SELECT ${RUN_COLUMNS}, st.step_count AS step_count, st.step_cost AS step_cost
    FROM ${from} AS r
    LEFT JOIN (${outcomesOf(ids)}) AS o ON o.run_id = r.run_id
    LEFT JOIN (${stepTotalsOf(ids)}) AS st ON st.run_id = r.run_id
    ${tail}`

  function listWhere(f: RunFilter, params: Record<string, unknown>): string {
    const where: string[] = ['project_id = {p:String}']
    if (f.name !== undefined) {
      where.push('name = {name:String}')
      params.name = f.name
    }
    f.tags.forEach(([k, v], i) => {
      // The has() terms are implied by the last two; they let the tag bloom filters skip granules.
      where.push(`has(mapKeys(tags), {tk${i}:String}) AND has(mapValues(tags), {tv${i}:String})`)
      where.push(`tags[{tk${i}:String}] = {tv${i}:String} AND mapContains(tags, {tk${i}:String})`)
      params[`tk${i}`] = k
      params[`tv${i}`] = v
    })
    if (f.from !== undefined) {
      where.push("started_at >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')")
      params.from = f.from
    }
    if (f.to !== undefined) {
      where.push("started_at < fromUnixTimestamp64Milli({to:Int64}, 'UTC')")
      params.to = f.to
    }
    if (f.before) {
      // The tuple comparison is a range of the table's key (project_id, started_at, run_id).
      where.push("(started_at, run_id) < (fromUnixTimestamp64Milli({bms:Int64}, 'UTC'), {bid:String})")
      params.bms = f.before[0]
      params.bid = f.before[1]
    }
    return where.join(' AND ')
  }

  const pointRun = `(SELECT run_id, name, tags, started_at, received_at FROM ${t.runStarts} FINAL
    WHERE project_id = {p:String} AND run_id = {id:String})`

  const page = (where: string, limit: string) => `(
    SELECT run_id, name, tags, started_at, received_at FROM ${t.runList} FINAL
    WHERE ${where} ORDER BY started_at DESC, run_id DESC LIMIT ${limit})`

  return {
    /** Newest first; one more row than `limit` is read to know whether a next page exists. */
    async listRuns(projectId: string, f: RunFilter): Promise<{ runs: Run[]; hasMore: boolean }> {
      const params: Record<string, unknown> = { p: projectId, limit: f.limit + 1 }
      const where = listWhere(f, params)
      const order = 'ORDER BY started_ms DESC, id DESC'
      let rows: RunRow[]
      if (f.status === undefined) {
        const ids = `(SELECT run_id FROM ${page(where, '{limit:UInt32}')})`
        rows = await select<RunRow>(withState(page(where, '{limit:UInt32}'), ids, order), params)
      } else {
        rows = await listByStatus(params, where, f.status, f.limit)
      }
      const hasMore = rows.length > f.limit
      return { runs: rows.slice(0, f.limit).map(toRun), hasMore }
    },

    async getRun(projectId: string, runId: string): Promise<Run | null> {
      const rows = await select<RunRow>(withState(pointRun, '({id:String})', 'LIMIT 1'), { p: projectId, id: runId })
      return rows[0] ? toRun(rows[0]) : null
    },

    /** The run and its first `maxSteps` steps in run order, in one query; null when the project has no such run. */
    async getRunWithSteps(projectId: string, runId: string, maxSteps: number): Promise<{ run: Run; steps: Step[] } | null> {
      const rows = await select<RunRow & Prefixed<StepRow>>(
        `SELECT run.*, ${STEP_FIELDS.map((c) => `st.s_${c} AS s_${c}`).join(', ')}
         FROM (${withState(pointRun, '({id:String})', 'LIMIT 1')}) AS run
         LEFT JOIN (
           SELECT ${stepSelect('s_')}, ord FROM (
             SELECT *, row_number() OVER (ORDER BY coalesce(started_at, completed_at, event_time), kafka_partition, kafka_offset) AS ord
             FROM ${t.steps} FINAL WHERE project_id = {p:String} AND run_id = {id:String}
           ) ORDER BY ord LIMIT {max:UInt32}
         ) AS st ON st.s_run_id = run.id
         ORDER BY st.ord`,
        { p: projectId, id: runId, max: maxSteps },
      )
      if (!rows[0]) return null
      const steps = rows.filter((r) => r.s_step_id !== null).map((r) => toStep(unprefixed(r)))
      return { run: toRun(rows[0]), steps }
    },

    /** Steps by start time, then by arrival (Kafka offset). */
    async listSteps(projectId: string, runId: string, page: { offset: number; limit: number }): Promise<{ steps: Step[]; hasMore: boolean }> {
      const rows = await select<StepRow>(
        `SELECT ${STEP_SELECT}
         FROM ${t.steps} FINAL WHERE project_id = {p:String} AND run_id = {id:String}
         ORDER BY coalesce(started_at, completed_at, event_time), kafka_partition, kafka_offset
         LIMIT {limit:UInt32} OFFSET {offset:UInt32}`,
        { p: projectId, id: runId, limit: page.limit + 1, offset: page.offset },
      )
      const hasMore = rows.length > page.limit
      return { steps: rows.slice(0, page.limit).map(toStep), hasMore }
    },
  }

  /**
   * A page of runs with one status. Most pages are found among the next few pages' worth of runs
   * (a common status, or rare runs that are all recent); otherwise the status's set of runs
   * filters the list (small when the status is rare). RUNNING means no completion yet.
   */
  async function listByStatus(params: Record<string, unknown>, where: string, status: NonNullable<RunFilter['status']>, limit: number): Promise<RunRow[]> {
    const wanted = status === 'RUNNING' ? null : status.toLowerCase()
    const matches = (r: RunRow) => (wanted === null ? r.status === null : r.status === wanted)
    const cap = (limit + 1) * STATUS_CANDIDATES
    const candidates = page(where, '{cap:UInt32}')
    const found = await select<RunRow>(
      withState(candidates, `(SELECT run_id FROM ${candidates})`, 'ORDER BY started_ms DESC, id DESC'),
      { ...params, cap },
    )
    if (found.length < cap || found.filter(matches).length > limit) return found.filter(matches).slice(0, limit + 1)
    const inSet =
      wanted === null
        ? `run_id NOT IN (SELECT run_id FROM ${t.runOutcomes} WHERE project_id = {p:String})`
        : `run_id IN (SELECT run_id FROM ${t.runOutcomes} WHERE project_id = {p:String} AND status = {status:String})`
    const filtered = page(`${where} AND ${inSet}`, '{limit:UInt32}')
    return select<RunRow>(withState(filtered, `(SELECT run_id FROM ${filtered})`, 'ORDER BY started_ms DESC, id DESC'), { ...params, status: wanted ?? '' })
  }
}

const STEP_FIELDS = [
  'step_id', 'run_id', 'name', 'type', 'inputs', 'outputs', 'metadata', 'reasoning', 'cost', 'started_ms', 'completed_ms', 'error',
  'input_count', 'output_count', 'rejection_reasons', 'created_ms',
] as const satisfies ReadonlyArray<keyof StepRow>
const STEP_TIMES: Partial<Record<keyof StepRow, string>> = {
  started_ms: 'toUnixTimestamp64Milli(started_at)',
  completed_ms: 'toUnixTimestamp64Milli(completed_at)',
  created_ms: 'toUnixTimestamp64Milli(received_at)',
}

/** The columns of a StepRow, each aliased `<prefix><field>`. */
function stepSelect(prefix: string): string {
  return STEP_FIELDS.map((f) => `${STEP_TIMES[f] ?? f} AS ${prefix}${f}`).join(', ')
}
const STEP_SELECT = stepSelect('')

type Prefixed<T> = { [K in keyof T & string as `s_${K}`]: T[K] | null }

function unprefixed(r: Prefixed<StepRow>): StepRow {
  return Object.fromEntries(STEP_FIELDS.map((f) => [f, r[`s_${f}`]])) as unknown as StepRow
}

function toRun(r: RunRow): Run {
  return {
    id: r.id,
    name: r.name,
    status: r.status === null ? 'RUNNING' : (r.status.toUpperCase() as Run['status']),
    total_cost: r.total_cost ?? (r.step_cost === null ? null : Number(r.step_cost)),
    tags: r.tags,
    started_at: iso(r.started_ms)!,
    completed_at: iso(r.completed_ms),
    error: r.error,
    created_at: iso(r.created_ms)!,
    step_count: Number(r.step_count ?? 0),
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
