-- Reaction rules, the matches they counted, the complaints they opened, and the webhook outbox.

CREATE TABLE reactions (
  id                uuid PRIMARY KEY,
  project_id        uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  name              text NOT NULL,
  enabled           boolean NOT NULL DEFAULT true,
  event_type        text NOT NULL CHECK (event_type IN ('log', 'step_complete', 'run_complete')),
  conditions        jsonb NOT NULL DEFAULT '[]',
  threshold_count   integer NOT NULL DEFAULT 1 CHECK (threshold_count >= 1),
  window_seconds    integer NOT NULL DEFAULT 60 CHECK (window_seconds >= 1),
  group_by          text[] NOT NULL DEFAULT '{}',
  cooldown_seconds  integer NOT NULL DEFAULT 0 CHECK (cooldown_seconds >= 0),
  severity          text NOT NULL DEFAULT 'error' CHECK (severity IN ('info', 'warning', 'error', 'critical')),
  actions           jsonb NOT NULL DEFAULT '[{"type": "complaint"}]',
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reactions_project_id_idx ON reactions (project_id);

-- One row, bumped in the same transaction as every reaction change: the rule processor compares
-- it once per batch and reloads its rules when it moved.
CREATE TABLE reaction_rules_version (
  singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  version    bigint NOT NULL
);
INSERT INTO reaction_rules_version (singleton, version) VALUES (true, 1);

CREATE TABLE complaints (
  id             uuid PRIMARY KEY,
  project_id     uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  reaction_id    uuid NOT NULL,
  fingerprint    text NOT NULL,
  "group"        jsonb NOT NULL DEFAULT '{}',
  title          text NOT NULL,
  severity       text NOT NULL,
  status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
  occurrences    bigint NOT NULL,
  first_seen_at  timestamptz NOT NULL,
  last_seen_at   timestamptz NOT NULL,
  sample_event   jsonb,
  note           text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  resolved_at    timestamptz
);
CREATE INDEX complaints_project_created_idx ON complaints (project_id, created_at DESC, id DESC);
CREATE INDEX complaints_fingerprint_created_idx ON complaints (fingerprint, created_at DESC);
-- At most one open or acknowledged complaint per fingerprint, whatever the code does.
CREATE UNIQUE INDEX complaints_one_active_per_fingerprint ON complaints (fingerprint) WHERE status IN ('open', 'acknowledged');

-- Every event a rule matched, once per (rule, event id): the sliding window counts these rows,
-- and the primary key is what makes a resent or replayed event count once.
CREATE TABLE reaction_matches (
  reaction_id   uuid NOT NULL,
  event_id      text NOT NULL,
  fingerprint   text NOT NULL,
  received_at   timestamptz NOT NULL,
  complaint_id  uuid,
  PRIMARY KEY (reaction_id, event_id)
);
CREATE INDEX reaction_matches_window_idx ON reaction_matches (fingerprint, received_at) WHERE complaint_id IS NULL;
CREATE INDEX reaction_matches_received_idx ON reaction_matches (received_at);

-- The webhook outbox: a row is written in the transaction that opens the complaint.
CREATE TABLE deliveries (
  id                uuid PRIMARY KEY,
  project_id        uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  complaint_id      uuid NOT NULL REFERENCES complaints (id) ON DELETE CASCADE,
  reaction_id       uuid NOT NULL,
  action            text NOT NULL,
  url               text NOT NULL,
  secret            text NOT NULL,
  event             text NOT NULL,
  body              text NOT NULL,
  status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempts          integer NOT NULL DEFAULT 0,
  last_status_code  integer,
  last_error        text,
  next_attempt_at   timestamptz NOT NULL DEFAULT now(),
  lease_owner       text,
  lease_until       timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_complaint_idx ON deliveries (complaint_id, created_at);

CREATE TABLE delivery_attempts (
  delivery_id   uuid NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
  attempt       integer NOT NULL,
  started_at    timestamptz NOT NULL,
  duration_ms   integer NOT NULL,
  status_code   integer,
  error         text,
  PRIMARY KEY (delivery_id, attempt)
);
