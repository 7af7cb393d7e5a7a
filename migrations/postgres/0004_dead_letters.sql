-- Messages a processor parked on the dead-letter topic, kept here too so an operator can list them
-- newest first and replay them (POST /api/ops/dead-letters/replay) without reading the topic.
-- `value`, `key` and `headers` are the original message, byte for byte.
CREATE TABLE dead_letters (
  id                uuid PRIMARY KEY,
  topic             text NOT NULL,
  kafka_partition   integer NOT NULL,
  kafka_offset      bigint NOT NULL,
  processor         text NOT NULL,
  reason            text NOT NULL,
  error             text NOT NULL,
  project_id        uuid,
  event_id          text,
  event_type        text,
  message_key       bytea,
  message_value     bytea NOT NULL,
  headers           jsonb NOT NULL,
  dead_lettered_at  timestamptz NOT NULL DEFAULT now(),
  replayed_at       timestamptz,
  -- A processor that crashes after parking a message parks it again on replay of its fetch: once.
  UNIQUE (processor, topic, kafka_partition, kafka_offset)
);
CREATE INDEX dead_letters_newest_idx ON dead_letters (dead_lettered_at DESC, id DESC);
