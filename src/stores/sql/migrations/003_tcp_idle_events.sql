-- TCP circuits, idle settings and lifecycle events.
--
-- A TCP circuit records how its port is reached (access mode, client allow-list) and how many
-- connections it carries at once. Every circuit records its idle settings, resolved once when it is
-- created (request > session > template > config), and where each came from, so that the activity
-- endpoint can explain them later even if the configuration or the template changed since.
-- Timeouts are milliseconds (bigint: an admin may allow more than the 24 days an integer holds);
-- NULL circuit/session idle timeout = never.

ALTER TABLE circuits
  ADD COLUMN access_mode text CHECK (access_mode IN ('tunnel', 'allow-list', 'public')),
  ADD COLUMN allow_from text[] NOT NULL DEFAULT '{}',
  ADD COLUMN max_connections integer CHECK (max_connections >= 1),
  ADD COLUMN access_updated_at timestamptz,
  ADD COLUMN connection_idle_timeout_ms bigint NOT NULL DEFAULT 1800000 CHECK (connection_idle_timeout_ms >= 1),
  ADD COLUMN connection_idle_source text NOT NULL DEFAULT 'config'
    CHECK (connection_idle_source IN ('request', 'session', 'template', 'config')),
  ADD COLUMN circuit_idle_timeout_ms bigint CHECK (circuit_idle_timeout_ms >= 1),
  ADD COLUMN circuit_idle_source text NOT NULL DEFAULT 'config'
    CHECK (circuit_idle_source IN ('request', 'session', 'template', 'config'));
-- Only TCP circuits have an access mode (and then always one). Workers did not serve TCP before
-- this version, so a TCP row can only come from a test setup: it gets the safe mode.
UPDATE circuits SET access_mode = 'tunnel', max_connections = 256 WHERE protocol = 'tcp';
ALTER TABLE circuits ADD CONSTRAINT circuits_access_check
  CHECK ((protocol = 'tcp') = (access_mode IS NOT NULL));

-- A session keeps its own idle policy and the circuit/connection settings its circuits inherit.
ALTER TABLE sessions
  ADD COLUMN idle_timeout_ms bigint CHECK (idle_timeout_ms >= 1),
  ADD COLUMN idle_source text NOT NULL DEFAULT 'config'
    CHECK (idle_source IN ('session', 'template', 'config')),
  ADD COLUMN circuit_idle_timeout_ms bigint CHECK (circuit_idle_timeout_ms >= 1),
  ADD COLUMN circuit_idle_source text NOT NULL DEFAULT 'config'
    CHECK (circuit_idle_source IN ('session', 'template', 'config')),
  ADD COLUMN connection_idle_timeout_ms bigint NOT NULL DEFAULT 1800000 CHECK (connection_idle_timeout_ms >= 1),
  ADD COLUMN connection_idle_source text NOT NULL DEFAULT 'config'
    CHECK (connection_idle_source IN ('session', 'template', 'config'));
-- The idle loop reads RUNNING sessions that have a policy.
CREATE INDEX sessions_idle ON sessions (id) WHERE state = 'RUNNING' AND idle_timeout_ms IS NOT NULL;

-- What the lifecycle and the idle policies did, for `GET /v1/{sessions,circuits}/{id}/events`.
-- No foreign keys: an event must never block or fail the flow that records it.
CREATE TABLE lifecycle_events (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  session_id  text NOT NULL,
  circuit_id  text,
  kind        text NOT NULL,
  detail      text NOT NULL DEFAULT ''
);
CREATE INDEX lifecycle_events_session ON lifecycle_events (session_id, id);
CREATE INDEX lifecycle_events_circuit ON lifecycle_events (circuit_id, id) WHERE circuit_id IS NOT NULL;
