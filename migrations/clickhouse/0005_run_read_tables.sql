-- Read-optimised copies of the raw run tables, kept by materialized views on the tables the
-- runs-funnel processor already writes (the processor itself is unchanged). They serve the query
-- API's lists and point reads without joins over a whole project:
--   run_list      every run_start, ordered by start time: `GET /runs` is one ordered read, and
--                 the partial hours of a pipeline funnel find their runs by a time range.
--   run_index     every run_start once per name and tag, ordered by it and then by start time:
--                 `GET /runs?name=…` or `?tag=…` is one ordered read too.
--   run_outcomes  every run_complete, narrow, ordered by status then run: the runs of one status
--                 are one key range, and the statuses of a page's candidates a few small granules.
--   run_state     one row per run once merged: its start, completion and steps (as maps keyed by
--                 step), so a run's state, or a page's, is one small granule per run.
--   step_facts    every step without its JSON payloads, narrow, small granules: the funnel of a
--                 partial hour reads a few granules per run.
-- A replayed batch writes identical raw rows, so the views copy them again: the copies are
-- ReplacingMergeTree on the raw tables' keys (reads skip the second copy with LIMIT 1 BY or
-- FINAL), and run_state keeps steps in maps keyed by step id, merged with maxMap, where a second
-- copy of a step changes nothing.

CREATE TABLE IF NOT EXISTS {db}.run_list (
  project_id   String,
  run_id       String,
  name         String,
  tags         Map(String, String),
  started_at   DateTime64(3, 'UTC'),
  received_at  DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree
ORDER BY (project_id, started_at, run_id)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.run_list_mv TO {db}.run_list AS
SELECT project_id, run_id, name, tags, started_at, received_at FROM {db}.run_starts;

-- The same runs once per name and once per tag, ordered by that term and then by start time: a
-- list filtered by a name or a tag is one ordered read of its term however rare the term is
-- (a skipping index cannot skip a granule that holds one matching run in a thousand).
CREATE TABLE IF NOT EXISTS {db}.run_index (
  project_id   String,
  term_kind    LowCardinality(String),
  term_key     String,
  term_value   String,
  started_at   DateTime64(3, 'UTC'),
  run_id       String,
  name         String,
  tags         Map(String, String),
  received_at  DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree
ORDER BY (project_id, term_kind, term_key, term_value, started_at, run_id)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.run_index_mv TO {db}.run_index AS
SELECT project_id, term.1 AS term_kind, term.2 AS term_key, term.3 AS term_value, started_at, run_id, name, tags, received_at
FROM {db}.run_starts
ARRAY JOIN arrayConcat([('name', '', name)], arrayMap((k, v) -> ('tag', k, v), mapKeys(tags), mapValues(tags))) AS term;

CREATE TABLE IF NOT EXISTS {db}.run_outcomes (
  project_id    String,
  run_id        String,
  status        LowCardinality(String),
  completed_at  DateTime64(3, 'UTC'),
  error         Nullable(String),
  total_cost    Nullable(Float64)
) ENGINE = ReplacingMergeTree
ORDER BY (project_id, status, run_id)
SETTINGS index_granularity = 256, min_compress_block_size = 4096, max_compress_block_size = 16384;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.run_outcomes_mv TO {db}.run_outcomes AS
SELECT project_id, run_id, status, completed_at, error, total_cost FROM {db}.run_completions;

-- Every column but the keys is an aggregate that a row without the value leaves alone: `any`
-- skips NULLs (each view fills only its own columns; the rest default to NULL or empty maps), and
-- maxMap keeps one entry per step. A run's start and its completion are each one JSON array
-- (`start`: name, tags, started_at and received_at in epoch ms; `completion`: status,
-- completed_at in ms, error, total_cost): a page reads its runs' state by id, one granule per run
-- and column, so fewer, packed columns and 32-row granules in small compression blocks make that
-- read cheap. Steps are keyed by the 64-bit SipHash of their id (8 bytes, not 36); two steps of
-- one run would have to share a hash to count as one, odds of about 2^-64 per pair. `steps` maps
-- every step to 1, `step_costs` every step that has a cost to it.
CREATE TABLE IF NOT EXISTS {db}.run_state (
  project_id  String,
  run_id      String,
  start       SimpleAggregateFunction(any, Nullable(String)),
  completion  SimpleAggregateFunction(any, Nullable(String)),
  steps       SimpleAggregateFunction(maxMap, Tuple(Array(UInt64), Array(UInt8))),
  step_costs  SimpleAggregateFunction(maxMap, Tuple(Array(UInt64), Array(Float64)))
) ENGINE = AggregatingMergeTree
ORDER BY (project_id, run_id)
SETTINGS index_granularity = 32, min_compress_block_size = 4096, max_compress_block_size = 16384;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.run_state_starts_mv TO {db}.run_state AS
SELECT project_id, run_id,
       toJSONString(tuple(name, tags, toUnixTimestamp64Milli(started_at), toUnixTimestamp64Milli(received_at))) AS start
FROM {db}.run_starts;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.run_state_completions_mv TO {db}.run_state AS
SELECT project_id, run_id, toJSONString(tuple(status, toUnixTimestamp64Milli(completed_at), error, total_cost)) AS completion
FROM {db}.run_completions;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.run_state_steps_mv TO {db}.run_state AS
SELECT project_id, run_id, maxMap(([sipHash64(step_id)], [toUInt8(1)])) AS steps,
       maxMapIf(([sipHash64(step_id)], [assumeNotNull(cost)]), isNotNull(cost)) AS step_costs
FROM {db}.steps
GROUP BY project_id, run_id;

CREATE TABLE IF NOT EXISTS {db}.step_facts (
  project_id         String,
  run_id             String,
  step_id            String,
  name               String,
  cost               Nullable(Float64),
  started_at         Nullable(DateTime64(3, 'UTC')),
  completed_at       Nullable(DateTime64(3, 'UTC')),
  event_time         DateTime64(3, 'UTC'),
  input_count        Nullable(Int64),
  output_count       Nullable(Int64),
  rejection_reasons  Nullable(String)
) ENGINE = ReplacingMergeTree
ORDER BY (project_id, run_id, step_id)
SETTINGS index_granularity = 256, min_compress_block_size = 4096, max_compress_block_size = 16384;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.step_facts_mv TO {db}.step_facts AS
SELECT project_id, run_id, step_id, name, cost, started_at, completed_at, event_time, input_count, output_count, rejection_reasons
FROM {db}.steps;

-- Existing data. TRICKY: a row the processor writes between a view's creation and these copies
-- lands twice, which the keys (and maxMap, any) collapse; so does a second run of this file.
INSERT INTO {db}.run_list SELECT project_id, run_id, name, tags, started_at, received_at FROM {db}.run_starts;
INSERT INTO {db}.run_index
SELECT project_id, term.1, term.2, term.3, started_at, run_id, name, tags, received_at
FROM {db}.run_starts
ARRAY JOIN arrayConcat([('name', '', name)], arrayMap((k, v) -> ('tag', k, v), mapKeys(tags), mapValues(tags))) AS term;
INSERT INTO {db}.run_outcomes SELECT project_id, run_id, status, completed_at, error, total_cost FROM {db}.run_completions;
INSERT INTO {db}.run_state (project_id, run_id, start)
SELECT project_id, run_id, toJSONString(tuple(name, tags, toUnixTimestamp64Milli(started_at), toUnixTimestamp64Milli(received_at)))
FROM {db}.run_starts;
INSERT INTO {db}.run_state (project_id, run_id, completion)
SELECT project_id, run_id, toJSONString(tuple(status, toUnixTimestamp64Milli(completed_at), error, total_cost)) FROM {db}.run_completions;
INSERT INTO {db}.run_state (project_id, run_id, steps, step_costs)
SELECT project_id, run_id, maxMap(([sipHash64(step_id)], [toUInt8(1)])),
       maxMapIf(([sipHash64(step_id)], [assumeNotNull(cost)]), isNotNull(cost))
FROM {db}.steps
GROUP BY project_id, run_id;
INSERT INTO {db}.step_facts
SELECT project_id, run_id, step_id, name, cost, started_at, completed_at, event_time, input_count, output_count, rejection_reasons
FROM {db}.steps;
