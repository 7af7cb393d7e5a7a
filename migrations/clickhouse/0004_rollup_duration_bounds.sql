-- The least and greatest step duration of each rollup row, so a pipeline quantile read from the
-- 1 % histogram is kept within the durations actually observed (a quantile of steps that all took
-- 100 ms is 100, not the bucket's middle, 99.69). NULL on rows written before this column existed:
-- min and max skip NULLs, so those rows only leave the bound looser.
ALTER TABLE {db}.pipeline_funnel_rollup
  ADD COLUMN IF NOT EXISTS duration_min SimpleAggregateFunction(min, Nullable(Float64)),
  ADD COLUMN IF NOT EXISTS duration_max SimpleAggregateFunction(max, Nullable(Float64));
