-- Several named keys per project (rotation: create the new one, move clients, revoke the old one),
-- and the audit log of management writes.
-- TRICKY: additive only. Existing keys keep their digest (the primary key) and get an id; code that
-- still inserts (key_hash, project_id, kind, prefix) keeps working.
ALTER TABLE api_keys ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE api_keys ADD CONSTRAINT api_keys_id_key UNIQUE (id);
ALTER TABLE api_keys ADD COLUMN name text CHECK (name IS NULL OR length(name) BETWEEN 1 AND 200);
ALTER TABLE api_keys ADD COLUMN last_used_at timestamptz;
UPDATE api_keys SET name = 'default' WHERE name IS NULL;

-- One row per management write, written in the transaction of the change. No foreign key to
-- projects: the trail outlives what it describes. Times are kept to the millisecond, as the API
-- shows them, so that keyset cursors (at, id) compare exactly.
CREATE TABLE audit_log (
  id           uuid PRIMARY KEY,
  at           timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
  actor_kind   text NOT NULL CHECK (actor_kind IN ('admin', 'query')),
  actor_key_id uuid,
  action       text NOT NULL,
  target_type  text NOT NULL,
  target_id    text NOT NULL,
  project_id   uuid,
  request_id   text,
  changes      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_project_at_idx ON audit_log (project_id, at DESC, id DESC);
