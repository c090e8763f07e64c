-- The flow a circuit was created under: `integrated` (per-circuit app cookie bound to the sign-in
-- that asked for it) or `legacy` (Backend.AI's per-user `appproxy_permit` cookie, set through
-- `/setup?token=`). A circuit keeps its flow for life: flipping `integratedFlow` changes only
-- what new circuits get, which is what makes turning it back safe.
ALTER TABLE circuits ADD COLUMN flow text NOT NULL DEFAULT 'integrated' CHECK (flow IN ('integrated', 'legacy'));

-- Tokens `POST /v2/conf` hands out (the Backend.AI handshake's first step): one app of one
-- session for one user, traded at `GET /v2/proxy/auth`. Only a SHA-256 of the token is kept;
-- each expires (Backend.AI's never do).
CREATE TABLE legacy_conf_tokens (
  token_hash      text PRIMARY KEY,
  user_id         text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  session_id      text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  login_session   text,
  kernel_host     text NOT NULL,
  kernel_port     integer NOT NULL CHECK (kernel_port BETWEEN 1 AND 65535),
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL
);
CREATE INDEX legacy_conf_tokens_expiry ON legacy_conf_tokens (expires_at);
