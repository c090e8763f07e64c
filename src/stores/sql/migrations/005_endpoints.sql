-- Inference endpoints: one stable address per model service, whose routes (replicas) change in
-- real time. An endpoint owns one circuit (its slot on a worker: the stable URL); its routes are
-- that circuit's backends, each a session's service (bound to the session's life) or an address.

CREATE TABLE endpoints (
  id             text PRIMARY KEY,
  name           text NOT NULL,
  owner_id       text NOT NULL REFERENCES users (id),
  state          text NOT NULL CHECK (state IN ('ACTIVE', 'DELETING', 'DELETED')),
  -- What the worker needs beyond its routes: access, balancing, health checks, retries, timeouts,
  -- hold and limits (`EndpointSettings` of contracts/endpoint.ts), validated by the API.
  settings       jsonb NOT NULL,
  -- Bumped by every change of the endpoint or its routes: `If-Match` on PUT …/routes.
  revision       bigint NOT NULL DEFAULT 1,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  deleted_at     timestamptz
);
-- A live endpoint's name is unique per owner.
CREATE UNIQUE INDEX endpoints_owner_name_live ON endpoints (owner_id, name) WHERE state <> 'DELETED';

CREATE TABLE endpoint_routes (
  id            text NOT NULL,
  endpoint_id   text NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
  -- A session's service (its backend follows the session; the session's end removes the route) …
  session_id    text REFERENCES sessions (id),
  service       text,
  -- … or an address.
  host          text,
  port          integer CHECK (port BETWEEN 1 AND 65535),
  -- Traffic share; 0 = staged (blue-green, canary): served nothing until raised.
  weight        integer NOT NULL DEFAULT 100 CHECK (weight BETWEEN 0 AND 10000),
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (endpoint_id, id),
  CHECK ((session_id IS NOT NULL AND service IS NOT NULL AND host IS NULL AND port IS NULL)
      OR (session_id IS NULL AND service IS NULL AND host IS NOT NULL AND port IS NOT NULL))
);
CREATE INDEX endpoint_routes_session ON endpoint_routes (session_id) WHERE session_id IS NOT NULL;

-- A circuit belongs to a session (interactive apps) or to an endpoint (inference), never both.
ALTER TABLE circuits ALTER COLUMN session_id DROP NOT NULL;
ALTER TABLE circuits ADD COLUMN endpoint_id text REFERENCES endpoints (id);
-- An endpoint circuit's copy of what its worker needs of the endpoint (access, balancing,
-- timeouts), written with its backends, so the circuit spec is derived from the row alone.
ALTER TABLE circuits ADD COLUMN endpoint_settings jsonb;
ALTER TABLE circuits ADD CONSTRAINT circuits_owner_check CHECK ((session_id IS NULL) <> (endpoint_id IS NULL));
CREATE INDEX circuits_endpoint ON circuits (endpoint_id) WHERE endpoint_id IS NOT NULL;

-- Events of endpoint circuits name their endpoint.
ALTER TABLE lifecycle_events ALTER COLUMN session_id DROP NOT NULL;
ALTER TABLE lifecycle_events ADD COLUMN endpoint_id text;
CREATE INDEX lifecycle_events_endpoint ON lifecycle_events (endpoint_id, id) WHERE endpoint_id IS NOT NULL;

-- Bearer keys of an endpoint (programs calling it): only a digest is stored; projected to KV
-- (digest, expiry, models) for the workers serving the endpoint, and deleted there when revoked.
CREATE TABLE endpoint_keys (
  id           text PRIMARY KEY,
  endpoint_id  text NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
  name         text NOT NULL,
  digest       text NOT NULL UNIQUE,
  -- Model names the key may ask for; empty = any.
  models       text[] NOT NULL DEFAULT '{}',
  created_by   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz,
  revoked_at   timestamptz
);
CREATE INDEX endpoint_keys_endpoint ON endpoint_keys (endpoint_id);
