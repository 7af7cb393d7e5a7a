-- Whole days in the pipeline funnel rollup, next to its hours, so a funnel over 30 days sums 30
-- rows per step and day instead of 720 hourly ones (at 1M runs a month of hourly duration
-- histograms is 1.5M (bucket, count) entries to sum; a month of daily ones, ~30 times fewer).
-- `span` tells a row's grain and is part of the sort key, so an hour row and the day row starting
-- at the same second never merge:
--   0      an hour, written before this migration (no day row of its own counts it)
--   3600   an hour, written with the day row that also counts it (same INSERT, so the two land
--          together with the batch's marker or not at all: the rollup's exactly-once is unchanged)
--   86400  a day, written by the runs-funnel store with those hours
--   86401  a day, copied here from the `0` hours
-- Readers take hours as span < 86400 and days as span >= 86400. Batch markers keep span 0.
ALTER TABLE {db}.pipeline_funnel_rollup
  ADD COLUMN IF NOT EXISTS span UInt32,
  MODIFY ORDER BY (project_id, pipeline, step_name, bucket, span);

-- Existing hours into days, once: skipped when copied days exist already (a second run of this
-- file). Only span 0 hours are copied, so hours that a runs-funnel store of this version writes
-- meanwhile (with their own days) never count twice.
-- TRICKY: a runs-funnel processor of an older version still writing after this copy writes hours
-- without days; stop those before starting this version (the lists and point reads are unaffected,
-- funnels over whole days would miss their counts).
INSERT INTO {db}.pipeline_funnel_rollup (
  project_id, pipeline, step_name, bucket, span, runs, counted, input_count, output_count, dropped, rejection_reasons,
  duration_histogram, duration_min, duration_max, cost_sum, cost_count, position_sum, max_offset)
SELECT project_id, pipeline, step_name, toStartOfDay(bucket) AS day, 86401, sum(runs), sum(counted), sum(input_count),
       sum(output_count), sum(dropped), sumMap(rejection_reasons), sumMap(duration_histogram), min(duration_min), max(duration_max),
       sum(cost_sum), sum(cost_count), sum(position_sum), 0
FROM {db}.pipeline_funnel_rollup
WHERE project_id != '' AND span = 0
  AND (SELECT count() FROM {db}.pipeline_funnel_rollup WHERE span = 86401) = 0
GROUP BY project_id, pipeline, step_name, day;
