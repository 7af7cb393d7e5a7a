-- run_state (0005) fed by one insert a flush instead of three views. The three views on run_starts,
-- run_completions and steps each wrote a part of their own into run_state at every flush: three of a
-- flush's twelve parts, a quarter of its CPU (docs/performance.md, "the file system").
-- Now the runs-funnel processor sends one row per run the flush touches (its start and completion as
-- the JSON arrays of 0005, its new steps and their costs) into run_state_input, a Null table: it
-- stores nothing, and its one view turns the rows into run_state's columns, one part a flush.
-- processors/runs-funnel/run-state-rows.ts builds the rows. A replayed batch sends the same rows
-- again, which `any` and maxMap collapse as before.
CREATE TABLE IF NOT EXISTS {db}.run_state_input (
  project_id  String,
  run_id      String,
  start       Nullable(String),
  completion  Nullable(String),
  step_ids    Array(String),
  costs       Array(Nullable(Float64))
) ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.run_state_input_mv TO {db}.run_state AS
SELECT project_id, run_id, start, completion,
       (arrayMap(s -> sipHash64(s), step_ids), arrayMap(s -> toUInt8(1), step_ids)) AS steps,
       (arrayMap(s -> sipHash64(s), arrayFilter((s, c) -> isNotNull(c), step_ids, costs)),
        arrayMap(c -> assumeNotNull(c), arrayFilter(c -> isNotNull(c), costs))) AS step_costs
FROM {db}.run_state_input;

-- TRICKY: migrations run before the processors start, so no flush falls between the new view and
-- the old ones' removal.
DROP VIEW IF EXISTS {db}.run_state_starts_mv;
DROP VIEW IF EXISTS {db}.run_state_completions_mv;
DROP VIEW IF EXISTS {db}.run_state_steps_mv;
