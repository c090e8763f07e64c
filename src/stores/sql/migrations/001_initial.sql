-- Initial schema: users and API tokens, sessions and their services, workers, circuits.
-- Slot uniqueness is enforced here: a live circuit (not CLOSED) holds its port or subdomain on
-- its worker exclusively, whatever the number of managers allocating concurrently.

CREATE TABLE users (
  id          text PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  role        text NOT NULL CHECK (role IN ('admin', 'user')),
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Only a SHA-256 of each token is stored; the token itself is shown once.
CREATE TABLE api_tokens (
  id          text PRIMARY KEY,
  user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  token_hash  text NOT NULL UNIQUE,
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz,
  revoked_at  timestamptz
);

CREATE TABLE sessions (
  id             text PRIMARY KEY,
  name           text NOT NULL,
  template       text NOT NULL,
  owner_id       text NOT NULL REFERENCES users (id),
  agent          text NOT NULL,
  state          text NOT NULL CHECK (state IN ('PENDING', 'RUNNING', 'TERMINATING', 'TERMINATED', 'ERROR')),
  state_reason   text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  terminated_at  timestamptz
);
CREATE INDEX sessions_owner ON sessions (owner_id);
CREATE INDEX sessions_live ON sessions (state) WHERE state IN ('PENDING', 'RUNNING', 'TERMINATING');

CREATE TABLE session_services (
  session_id    text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  name          text NOT NULL,
  protocol      text NOT NULL CHECK (protocol IN ('http', 'tcp')),
  backend_host  text,
  backend_port  integer CHECK (backend_port BETWEEN 1 AND 65535),
  PRIMARY KEY (session_id, name)
);

CREATE TABLE workers (
  authority        text PRIMARY KEY,
  frontend_mode    text NOT NULL CHECK (frontend_mode IN ('port', 'wildcard')),
  protocols        text[] NOT NULL,
  port_min         integer,
  port_max         integer,
  wildcard_domain  text,
  public_scheme    text NOT NULL DEFAULT 'http',
  public_host      text NOT NULL,
  public_port      integer,
  first_seen_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE circuits (
  id             text PRIMARY KEY,
  session_id     text NOT NULL REFERENCES sessions (id),
  service        text NOT NULL,
  protocol       text NOT NULL CHECK (protocol IN ('http', 'tcp')),
  owner_id       text NOT NULL REFERENCES users (id),
  worker         text NOT NULL REFERENCES workers (authority),
  frontend_mode  text NOT NULL CHECK (frontend_mode IN ('port', 'wildcard')),
  port           integer CHECK (port BETWEEN 1 AND 65535),
  subdomain      text CHECK (subdomain ~ '^[0-9a-f]{6}$'),
  app_url        text NOT NULL,
  backends       jsonb NOT NULL,
  state          text NOT NULL CHECK (state IN ('PENDING', 'ACTIVE', 'CLOSING', 'CLOSED')),
  state_reason   text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  closed_at      timestamptz,
  CHECK ((frontend_mode = 'port' AND port IS NOT NULL AND subdomain IS NULL)
      OR (frontend_mode = 'wildcard' AND subdomain IS NOT NULL AND port IS NULL))
);
CREATE UNIQUE INDEX circuits_worker_port_live ON circuits (worker, port)
  WHERE state <> 'CLOSED' AND port IS NOT NULL;
CREATE UNIQUE INDEX circuits_worker_subdomain_live ON circuits (worker, subdomain)
  WHERE state <> 'CLOSED' AND subdomain IS NOT NULL;
CREATE INDEX circuits_session ON circuits (session_id);
CREATE INDEX circuits_live ON circuits (worker) WHERE state <> 'CLOSED';
