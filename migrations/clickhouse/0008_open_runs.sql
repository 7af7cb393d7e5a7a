-- The runs that have no completion yet, newest first: `GET /runs?status=RUNNING` is one ordered read
-- of them, however rare they are among a project's runs (before this, a page of running runs looked
-- through the newest runs and then through every completion of the project: 120-170 ms at 100k runs,
-- growing with the project).
-- The runs-funnel processor writes it, in the same phase as the raw rows (a view cannot: a
-- completion's row needs its run's start time, which the completion does not carry;
-- processors/runs-funnel/batch-plan.ts, openRunRows):
--   closed = 0  when a batch stores a run's start and, by its end, no completion of the run;
--   closed = 1  with the same key when a batch stores the completion of a run whose start was
--               stored by an earlier batch (so an open row may exist).
-- A run that starts and completes within one batch (most runs under load) gets no row.
-- ReplacingMergeTree(closed) keeps the closed row of a key; reads take `FINAL` and `closed = 0`, so a
-- run is listed until its closing row lands, whether or not the two rows have merged. A replayed
-- batch writes identical rows. Closed rows carry only their key (a filter on name or tags never
-- needs them: they are not listed).
CREATE TABLE IF NOT EXISTS {db}.open_runs (
  project_id   String,
  started_at   DateTime64(3, 'UTC'),
  run_id       String,
  closed       UInt8,
  name         String,
  tags         Map(String, String),
  received_at  DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree(closed)
ORDER BY (project_id, started_at, run_id)
SETTINGS index_granularity = 1024;

-- Existing runs without a completion. A closed row outranks an open one, so this copy cannot reopen
-- a run that a processor closed meanwhile, and a second run of it changes nothing.
INSERT INTO {db}.open_runs (project_id, started_at, run_id, closed, name, tags, received_at)
SELECT project_id, started_at, run_id, 0, name, tags, received_at
FROM {db}.run_list
WHERE (project_id, run_id) NOT IN (SELECT project_id, run_id FROM {db}.run_outcomes);
