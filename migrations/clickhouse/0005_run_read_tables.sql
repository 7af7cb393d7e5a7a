-- Read-optimised copies of the raw run tables, kept by materialized views on the tables the
-- runs-funnel processor already writes (the processor itself is unchanged). They serve the query
-- API's lists and point reads without joins over a whole project:
--   run_list      every run_start, ordered by start time: `GET /runs` is one ordered read, and
--                 the partial hours of a pipeline funnel find their runs by a time range.
--   run_outcomes  every run_complete, narrow, ordered by status then run: a page's completions
--                 are a few small granules, and "the failed runs" is one key range.
--   step_facts    every step without its JSON payloads, narrow, small granules: a page's step
--                 counts and costs, and the funnel of a partial hour, read a few granules.
-- Like the raw tables these are ReplacingMergeTree on the raw tables' keys: a replayed batch
-- writes identical rows, and every read deduplicates (FINAL, or a GROUP BY on the key).

CREATE TABLE IF NOT EXISTS {db}.run_list (
  project_id   String,
  run_id       String,
  name         String,
  tags         Map(String, String),
  started_at   DateTime64(3, 'UTC'),
  received_at  DateTime64(3, 'UTC'),
  INDEX name_idx name TYPE set(256) GRANULARITY 1,
  INDEX tag_keys_idx mapKeys(tags) TYPE bloom_filter(0.01) GRANULARITY 1,
  INDEX tag_values_idx mapValues(tags) TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = ReplacingMergeTree
ORDER BY (project_id, started_at, run_id)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.run_list_mv TO {db}.run_list AS
SELECT project_id, run_id, name, tags, started_at, received_at FROM {db}.run_starts;

CREATE TABLE IF NOT EXISTS {db}.run_outcomes (
  project_id    String,
  run_id        String,
  status        LowCardinality(String),
  completed_at  DateTime64(3, 'UTC'),
  error         Nullable(String),
  total_cost    Nullable(Float64)
) ENGINE = ReplacingMergeTree
ORDER BY (project_id, status, run_id)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.run_outcomes_mv TO {db}.run_outcomes AS
SELECT project_id, run_id, status, completed_at, error, total_cost FROM {db}.run_completions;

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
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.step_facts_mv TO {db}.step_facts AS
SELECT project_id, run_id, step_id, name, cost, started_at, completed_at, event_time, input_count, output_count, rejection_reasons
FROM {db}.steps;

-- Existing data. TRICKY: a row the processor writes between a view's creation and these copies
-- lands twice, which the ReplacingMergeTree keys collapse; so does a second run of this file.
INSERT INTO {db}.run_list SELECT project_id, run_id, name, tags, started_at, received_at FROM {db}.run_starts;
INSERT INTO {db}.run_outcomes SELECT project_id, run_id, status, completed_at, error, total_cost FROM {db}.run_completions;
INSERT INTO {db}.step_facts
SELECT project_id, run_id, step_id, name, cost, started_at, completed_at, event_time, input_count, output_count, rejection_reasons
FROM {db}.steps;
