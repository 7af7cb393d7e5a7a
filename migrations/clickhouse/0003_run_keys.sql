-- One narrow row per run that has any row in run_starts, steps or run_completions, so the
-- runs-funnel processor tells a run the store already holds from a new one (the common case) with
-- a cheap lookup: with small granules a lookup of a flush's runs reads only their granules, however
-- large the tables grow, and the three wide tables are read only for runs found here. Written in the
-- same phase as the raw rows, before a flush's marker.
CREATE TABLE IF NOT EXISTS {db}.run_keys (
  project_id String,
  run_id     String
) ENGINE = ReplacingMergeTree
ORDER BY (project_id, run_id)
SETTINGS index_granularity = 256;

-- Existing data. Safe to run again (a second copy of a key collapses, and lookups only ask whether one exists).
INSERT INTO {db}.run_keys
SELECT DISTINCT project_id, run_id FROM (
  SELECT project_id, run_id FROM {db}.run_starts
  UNION ALL SELECT project_id, run_id FROM {db}.steps
  UNION ALL SELECT project_id, run_id FROM {db}.run_completions
);
