-- Runs, steps and the per-pipeline funnel rollup. `{db}` is the configured database.
-- Every raw table keeps the Kafka partition and offset of the first event that wrote the row:
-- the runs-funnel processor inserts only first occurrences, so a replayed batch writes identical
-- rows (collapsed by ReplacingMergeTree) and a resent event is recognised by its earlier offset.

CREATE TABLE IF NOT EXISTS {db}.run_starts (
  project_id       String,
  run_id           String,
  event_id         String,
  name             String,
  tags             Map(String, String),
  started_at       DateTime64(3, 'UTC'),
  received_at      DateTime64(3, 'UTC'),
  kafka_partition  Int32,
  kafka_offset     Int64,
  INDEX started_at_idx started_at TYPE minmax GRANULARITY 1
) ENGINE = ReplacingMergeTree
ORDER BY (project_id, run_id);

CREATE TABLE IF NOT EXISTS {db}.run_completions (
  project_id       String,
  run_id           String,
  event_id         String,
  status           LowCardinality(String),
  completed_at     DateTime64(3, 'UTC'),
  error            Nullable(String),
  total_cost       Nullable(Float64),
  received_at      DateTime64(3, 'UTC'),
  kafka_partition  Int32,
  kafka_offset     Int64
) ENGINE = ReplacingMergeTree
ORDER BY (project_id, run_id);

CREATE TABLE IF NOT EXISTS {db}.steps (
  project_id         String,
  run_id             String,
  step_id            String,
  event_id           String,
  name               String,
  type               LowCardinality(String),
  inputs             Nullable(String),
  outputs            Nullable(String),
  metadata           Nullable(String),
  reasoning          Nullable(String),
  cost               Nullable(Float64),
  started_at         Nullable(DateTime64(3, 'UTC')),
  completed_at       Nullable(DateTime64(3, 'UTC')),
  error              Nullable(String),
  input_count        Nullable(Int64),
  output_count       Nullable(Int64),
  rejection_reasons  Nullable(String),
  event_time         DateTime64(3, 'UTC'),
  received_at        DateTime64(3, 'UTC'),
  kafka_partition    Int32,
  kafka_offset       Int64
) ENGINE = ReplacingMergeTree
ORDER BY (project_id, run_id, step_id);

-- One row per (project, pipeline, step name, hour of the run's start), summed on merge.
-- TRICKY: rows with project_id = '' are the processor's batch markers (max_offset per consumer
-- group, topic and partition). They travel in the same INSERT as the deltas of their batch, so
-- the deltas and the marker land in one part or not at all: that is what makes the rollup count
-- every step exactly once across retries and crashes.
CREATE TABLE IF NOT EXISTS {db}.pipeline_funnel_rollup (
  project_id         String,
  pipeline           String,
  step_name          String,
  bucket             DateTime('UTC'),
  runs               SimpleAggregateFunction(sum, UInt64),
  counted            SimpleAggregateFunction(sum, UInt64),
  input_count        SimpleAggregateFunction(sum, Int64),
  output_count       SimpleAggregateFunction(sum, Int64),
  dropped            SimpleAggregateFunction(sum, Int64),
  rejection_reasons  SimpleAggregateFunction(sumMap, Tuple(Array(String), Array(Int64))),
  duration_histogram SimpleAggregateFunction(sumMap, Tuple(Array(UInt16), Array(UInt64))),
  cost_sum           SimpleAggregateFunction(sum, Float64),
  cost_count         SimpleAggregateFunction(sum, UInt64),
  position_sum       SimpleAggregateFunction(sum, Float64),
  max_offset         SimpleAggregateFunction(max, Int64)
) ENGINE = AggregatingMergeTree
ORDER BY (project_id, pipeline, step_name, bucket);
