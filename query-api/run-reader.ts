import { queryPlainRows, sqlString, type ClickHouseClient, type ClickhouseTables } from '../lib/clickhouse.ts'
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

interface ListSource {
  table: string
  where: string
  /** The table's whole sort key, descending: rows newest first, read in key order. */
  order: string
}

// TRICKY: run_index is read ordered by its whole key, not only (started_at, run_id): the analyzer
// turns a name term's `term_key = ''` into `empty(term_key)`, which read-in-order does not take as
// a fixed key prefix, so `ORDER BY started_at DESC` read and sorted every run of that name (24 ms
// instead of 9 at 500k runs of one name). The leading columns are fixed by the WHERE: the order is
// the same. But not under a status's set of runs (`run_id IN (...)`): there reading in key order
// cost 5× more than reading and sorting (140 against 30 ms for FAILED at 1M runs), so that read
// keeps the short order.
const BY_START = 'started_at DESC, run_id DESC'
const RUN_INDEX_ORDER = 'project_id DESC, term_kind DESC, term_key DESC, term_value DESC, started_at DESC, run_id DESC'

interface ListedRun {
  run_id: string
  name: string
  tags: Record<string, string>
  started_ms: number
  created_ms: number
}

/** run_state's aggregates for one run, as read. */
interface StateRow {
  run_id: string
  completion: string | null
  step_count: number
  step_cost: number | null
}

function stateOfRow(r: StateRow): RunState {
  const [status, completedMs, error, totalCost] = r.completion === null ? [null, null, null, null] : (JSON.parse(r.completion) as [string, number, string | null, number | null])
  return { run_id: r.run_id, status, completed_ms: completedMs, error, total_cost: totalCost, step_count: Number(r.step_count), step_cost: r.step_cost }
}

interface RunState {
  run_id: string
  status: string | null
  completed_ms: number | null
  error: string | null
  total_cost: number | null
  step_count: number
  step_cost: number | null
}

/**
 * Reads runs and steps of one project. Every query is scoped by project id.
 *
 * A list is one ordered read of `run_list` (every run_start, ordered by start time) or of
 * `run_index` (the same by name or tag), then one read of its runs' `run_state` (completion and
 * step totals, one small granule per run); `getRun` is one read of `run_state`. See migrations/clickhouse/0005_run_read_tables.sql.
 * Status pages use `open_runs` (0008_open_runs.sql): running runs are read from it, completed ones
 * read without its runs. Replayed rows are skipped here
 * (LIMIT 1 BY the key, maxMap by step id) rather than with FINAL, which costs more than the read;
 * `open_runs` is read with FINAL, because its closing rows replace open ones (a narrow table).
 */
export function createRunReader(options: { client: ClickHouseClient; tables: ClickhouseTables }) {
  const { client, tables: t } = options

  async function select<T>(query: string, params: Record<string, unknown>): Promise<T[]> {
    const rs = await client.query({ query, query_params: params, format: 'JSONEachRow', clickhouse_settings: { join_use_nulls: 1 } })
    return rs.json<T>()
  }

  /** A run's completion (JSON), step count and summed step cost (null when no step has a cost). */
  const STATE_AGGREGATES = `any(completion) AS completion, length(maxMap(steps).1) AS step_count,
    if(length(maxMap(step_costs).1) = 0, NULL, arraySum(maxMap(step_costs).2)) AS step_cost`
  /** The state of the runs `ids` selects, one row per run that has any. */
  const stateOf = (ids: string) => `
    SELECT run_id, ${STATE_AGGREGATES} FROM ${t.runState} WHERE project_id = {p:String} AND run_id IN ${ids} GROUP BY run_id`

  /**
   * Where a list reads and what it filters: `run_index` at the first tag's (else the name's) term
   * when there is one, else `run_list`; either way rows in (started_at, run_id) order with the
   * run's name and tags, so the other filters are conditions on the rows read in order.
   */
  function listSource(f: RunFilter, params: Record<string, unknown>): ListSource {
    const where: string[] = ['project_id = {p:String}']
    let table = t.runList
    let order = BY_START
    const [firstTag] = f.tags
    if (firstTag || f.name !== undefined) {
      table = t.runIndex
      order = RUN_INDEX_ORDER
      where.push(firstTag ? "term_kind = 'tag' AND term_key = {tk0:String} AND term_value = {tv0:String}" : "term_kind = 'name' AND term_key = '' AND term_value = {name:String}")
    }
    return { table, where: [...where, ...filterConditions(f, params)].join(' AND '), order }
  }

  /** The runs without a completion (`open_runs`, latest row per key), with the filter's conditions. */
  function openSource(f: RunFilter, params: Record<string, unknown>): ListSource {
    return { table: `${t.openRuns} FINAL`, where: ['project_id = {p:String}', 'closed = 0', ...filterConditions(f, params)].join(' AND '), order: BY_START }
  }

  /** The filter's name, tags, time range and cursor as conditions on rows that carry name and tags. */
  function filterConditions(f: RunFilter, params: Record<string, unknown>): string[] {
    const where: string[] = []
    if (f.name !== undefined) {
      where.push('name = {name:String}')
      params.name = f.name
    }
    f.tags.forEach(([k, v], i) => {
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
    if (f.before) where.push(beforeRun({ started_ms: f.before[0], run_id: f.before[1] }, params, ''))
    return where
  }

  /**
   * Up to `limit` runs newest first, in key order. A run replayed into two rows not merged yet
   * comes twice in a row: the copy is dropped, and when that leaves the page short the page is read
   * again with LIMIT 1 BY (rare: only until the background merge).
   */
  async function listPage({ table, where, order }: ListSource, params: Record<string, unknown>, limit: number): Promise<ListedRun[]> {
    const sql = (by: string) => `
      SELECT run_id, name, tags, toUnixTimestamp64Milli(started_at) AS started_ms, toUnixTimestamp64Milli(received_at) AS created_ms
      FROM ${table} WHERE ${where} ORDER BY ${order} ${by} LIMIT {n:UInt32}`
    const rows = await select<ListedRun>(sql(''), { ...params, n: limit })
    const unique = rows.filter((r, i) => i === 0 || rows[i - 1]!.run_id !== r.run_id)
    if (unique.length === rows.length || rows.length < limit) return unique
    return select<ListedRun>(sql('LIMIT 1 BY run_id'), { ...params, n: limit })
  }

  async function withState(projectId: string, listed: readonly ListedRun[]): Promise<Run[]> {
    if (listed.length === 0) return []
    const states = await select<StateRow>(stateOf('{ids:Array(String)}'), {
      p: projectId,
      ids: listed.map((r) => r.run_id),
    })
    const byId = new Map(states.map((s) => [s.run_id, stateOfRow(s)]))
    return listed.map((r) => toRun(r, byId.get(r.run_id)))
  }

  /**
   * A page of runs with one status. RUNNING (no completion yet) reads `open_runs` in order: one read,
   * unless some of its runs completed while their closing rows are not stored yet (their state says
   * so, and they are skipped). COMPLETED pages are looked for in the next runs that are not open,
   * in rounds of growing size (completed runs are most of the rest); when a few rounds hold too few,
   * and always for FAILED (a minority in any healthy project), the status's set of runs from
   * `run_outcomes` filters the ordered read. Either way the answer is exact (a run that completes
   * between the two reads of a page is left out of it); only its cost depends on how the statuses
   * are spread.
   */
  async function listByStatus(projectId: string, params: Record<string, unknown>, f: RunFilter) {
    const { limit } = f
    const status = f.status!
    if (status === 'RUNNING') return (await scan(projectId, params, openSource(f, params), status, limit, Infinity)).found
    const source = listSource(f, params)
    if (status === 'COMPLETED') {
      // Running runs gather among the newest: leave the open ones out of the rounds, or a page can
      // take several (at 1M runs the newest page took two rounds, 114 ms p99). A run whose closing
      // row is not stored yet is left out until it is (the same write of its flush).
      const closed = { ...source, where: `${source.where} AND run_id NOT IN (SELECT run_id FROM ${t.openRuns} FINAL WHERE project_id = {p:String} AND closed = 0)` }
      const { found, complete } = await scan(projectId, params, closed, status, limit, (limit + 1) * STATUS_SCAN_PAGES)
      if (complete) return found
    }
    const inSet = `run_id IN (SELECT run_id FROM ${t.runOutcomes} WHERE project_id = {p:String} AND status = {status:String})`
    return withState(projectId, await listPage({ ...source, where: `${source.where} AND ${inSet}`, order: BY_START }, { ...params, status: status.toLowerCase() }, limit + 1))
  }

  /**
   * The first `limit + 1` runs of `status` among the source's, read in rounds of growing size after
   * one another; `complete` is false when `maxRead` rows were read without finding them all.
   */
  async function scan(projectId: string, params: Record<string, unknown>, source: ListSource, status: string, limit: number, maxRead: number) {
    const found: Run[] = []
    let cap = (limit + 1) * 2
    let round = source
    for (let read = 0; read <= maxRead; read += cap, cap *= 2) {
      const candidates = await listPage(round, params, cap)
      found.push(...(await withState(projectId, candidates)).filter((r) => r.status === status))
      if (candidates.length < cap || found.length > limit) return { found: found.slice(0, limit + 1), complete: true }
      round = { ...source, where: `${source.where} AND ${beforeRun(candidates[candidates.length - 1]!, params, 'round')}` }
    }
    return { found, complete: false }
  }

  /** The run with its state from run_state alone (no row when the project has no run_start of that id). */
  const runSql = `
    SELECT run_id, any(start) AS start, ${STATE_AGGREGATES}
    FROM ${t.runState} WHERE project_id = {p:String} AND run_id = {id:String}
    GROUP BY run_id HAVING start IS NOT NULL`

  const reader = {
    /** Newest first; one more row than `limit` is read to know whether a next page exists. */
    async listRuns(projectId: string, f: RunFilter): Promise<{ runs: Run[]; hasMore: boolean }> {
      const params: Record<string, unknown> = { p: projectId }
      const runs = f.status === undefined ? await withState(projectId, await listPage(listSource(f, params), params, f.limit + 1)) : await listByStatus(projectId, params, f)
      return { runs: runs.slice(0, f.limit), hasMore: runs.length > f.limit }
    },

    async getRun(projectId: string, runId: string): Promise<Run | null> {
      const rows = await select<StateRow & { start: string }>(runSql, { p: projectId, id: runId })
      if (!rows[0]) return null
      const [name, tags, startedMs, receivedMs] = JSON.parse(rows[0].start) as [string, Record<string, string>, number, number]
      return toRun({ run_id: runId, name, tags, started_ms: startedMs, created_ms: receivedMs }, stateOfRow(rows[0]))
    },

    /**
     * The run and its first `maxSteps` steps in run order; null when the project has no such run.
     * Two point reads at once: the steps as a plain read (values in the SQL), which on embedded
     * ClickHouse runs on the side session beside the run's read instead of after it (a server runs
     * both at once anyway). One query joining the two cost more than both (the join's own work).
     * The steps of a run that does not exist (a 404) are an empty read.
     */
    async getRunWithSteps(projectId: string, runId: string, maxSteps: number): Promise<{ run: Run; steps: Step[] } | null> {
      const [run, steps] = await Promise.all([reader.getRun(projectId, runId), reader.listSteps(projectId, runId, { offset: 0, limit: maxSteps })])
      return run ? { run, steps: steps.steps } : null
    },

    /** Steps by start time, then by arrival (Kafka offset). A plain read: see getRunWithSteps. */
    async listSteps(projectId: string, runId: string, page: { offset: number; limit: number }): Promise<{ steps: Step[]; hasMore: boolean }> {
      const rows = await queryPlainRows<StepRow>(
        client,
        `SELECT ${STEP_SELECT}
         FROM ${t.steps} WHERE project_id = ${sqlString(projectId)} AND run_id = ${sqlString(runId)}
         ORDER BY coalesce(started_at, completed_at, event_time), kafka_partition, kafka_offset
         LIMIT 1 BY step_id LIMIT ${int(page.limit + 1)} OFFSET ${int(page.offset)}`,
      )
      const hasMore = rows.length > page.limit
      return { steps: rows.slice(0, page.limit).map(toStep), hasMore }
    },
  }
  return reader
}

/** Pages' worth of runs a COMPLETED or RUNNING page looks through before using the status's set. */
const STATUS_SCAN_PAGES = 8

/**
 * Runs strictly before `r` in (started_at, run_id) order, written so the key condition narrows the
 * read (a tuple comparison would not): the rows at or before its time, then strictly before it.
 * Its values go into `params` under names ending in `tag`.
 */
function beforeRun(r: { started_ms: number; run_id: string }, params: Record<string, unknown>, tag: string): string {
  params[`bms${tag}`] = Number(r.started_ms)
  params[`bid${tag}`] = r.run_id
  const at = `fromUnixTimestamp64Milli({bms${tag}:Int64}, 'UTC')`
  return `started_at <= ${at} AND (started_at < ${at} OR run_id < {bid${tag}:String})`
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

/** The columns of a StepRow. */
const STEP_SELECT = STEP_FIELDS.map((f) => `${STEP_TIMES[f] ?? f} AS ${f}`).join(', ')

/** A count inlined into SQL: a safe integer, or the read refuses to run. */
function int(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a row count: ${n}`)
  return n
}

function toRun(r: ListedRun, st: Partial<RunState> | undefined): Run {
  const status = st?.status ?? null
  const stepCost = st?.step_cost ?? null
  return {
    id: r.run_id,
    name: r.name,
    status: status === null ? 'RUNNING' : (status.toUpperCase() as Run['status']),
    total_cost: st?.total_cost ?? (stepCost === null ? null : Number(stepCost)),
    tags: r.tags,
    started_at: iso(r.started_ms)!,
    completed_at: iso(st?.completed_ms ?? null),
    error: st?.error ?? null,
    created_at: iso(r.created_ms)!,
    step_count: Number(st?.step_count ?? 0),
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
