-- Logs, newest first per project. Retention is a TTL on receipt time; the server sets its length
-- from SLUICE_LOG_RETENTION_DAYS at start (lib/log-retention.ts), this is only the first value.
-- Like runs and steps, only a log id's first occurrence is inserted; a replayed batch writes the
-- identical row again, which ReplacingMergeTree collapses.
CREATE TABLE IF NOT EXISTS {db}.logs (
  project_id       String,
  log_id           String,
  timestamp        DateTime64(3, 'UTC'),
  level            LowCardinality(String),
  level_rank       UInt8,
  service          Nullable(String),
  message          String,
  attributes       String,
  run_id           Nullable(String),
  received_at      DateTime64(3, 'UTC'),
  kafka_partition  Int32,
  kafka_offset     Int64,
  INDEX log_id_idx log_id TYPE bloom_filter(0.01) GRANULARITY 1,
  INDEX run_id_idx run_id TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(received_at)
ORDER BY (project_id, timestamp, log_id)
TTL toDateTime(received_at) + INTERVAL 30 DAY
SETTINGS ttl_only_drop_parts = 1;
