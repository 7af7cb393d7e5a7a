-- Projects and their API keys. Keys are stored as SHA-256 digests; the key itself is shown once.
CREATE TABLE projects (
  id          uuid PRIMARY KEY,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  key_hash    bytea PRIMARY KEY,
  project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  kind        text NOT NULL CHECK (kind IN ('ingest', 'query')),
  -- The first characters of the key, to tell keys apart in a listing without revealing them.
  prefix      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);

CREATE INDEX api_keys_project_id_idx ON api_keys (project_id);
