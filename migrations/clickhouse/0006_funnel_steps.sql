-- Every step that counts toward its pipeline's funnel, as the runs-funnel processor counted it
-- (its contribution), ordered by pipeline and by its run's start time. The rollup holds whole hours;
-- the partial hours at the edges of a funnel's range are a key range of this table, however many
-- runs an hour holds (they used to be a lookup of each run's steps by run id, one granule per run).
--
-- Written by the runs-funnel store in the same phase as the raw rows, before the batch's rollup
-- deltas and marker, so every step the rollup counts has its row here. A replayed batch writes the
-- same contribution again (same step, same run_start, same numbers): the key collapses it, and a
-- read skips an unmerged copy with LIMIT 1 BY (run_id, step_id). Only steps the planner counts are
-- written, so this table needs none of the rollup's exactly-once machinery.
CREATE TABLE IF NOT EXISTS {db}.funnel_steps (
  project_id         String,
  pipeline           String,
  run_started_at     DateTime64(3, 'UTC'),
  run_id             String,
  step_id            String,
  step_name          String,
  input_count        Nullable(Int64),
  output_count       Nullable(Int64),
  rejection_reasons  Nullable(String),
  duration_ms        Nullable(Float64),
  cost               Nullable(Float64),
  position_ms        Float64
) ENGINE = ReplacingMergeTree
ORDER BY (project_id, pipeline, run_started_at, run_id, step_id);

-- Existing data: every stored step whose run_start is stored counts once (the planner counts a step
-- when the later of the two is processed), with its run's name and start, as the processor would.
-- Safe to run again, and against rows the processor writes meanwhile: copies collapse.
INSERT INTO {db}.funnel_steps
SELECT s.project_id, r.name, r.started_at, s.run_id, s.step_id, s.name, s.input_count, s.output_count, s.rejection_reasons,
       if(s.started_at IS NULL OR s.completed_at IS NULL, NULL,
          toFloat64(toUnixTimestamp64Milli(assumeNotNull(s.completed_at)) - toUnixTimestamp64Milli(assumeNotNull(s.started_at)))),
       s.cost,
       toFloat64(toUnixTimestamp64Milli(coalesce(s.started_at, s.completed_at, s.event_time)) - toUnixTimestamp64Milli(r.started_at))
FROM (SELECT project_id, run_id, step_id, name, input_count, output_count, rejection_reasons, started_at, completed_at, event_time, cost
      FROM {db}.steps FINAL) AS s
INNER JOIN (SELECT project_id, run_id, name, started_at FROM {db}.run_starts FINAL) AS r
  ON r.project_id = s.project_id AND r.run_id = s.run_id;

-- step_facts (0005) served only those edge reads: nothing reads it any more, so the view stops
-- copying every step into it.
DROP VIEW IF EXISTS {db}.step_facts_mv;
DROP TABLE IF EXISTS {db}.step_facts;
