-- Identity and one authentication: users with passwords or an identity provider, login sessions,
-- scoped API tokens, revocations (projected to KV for workers), logout URIs, and where each grant
-- holds app cookies (so a logout can visit those origins).

-- Users. A deleted user keeps its row (sessions and circuits refer to it); its name is freed.
ALTER TABLE users
  ADD COLUMN display_name  text,
  ADD COLUMN disabled_at   timestamptz,
  ADD COLUMN deleted_at    timestamptz,
  -- scrypt$<log2 N>$<r>$<p>$<salt>$<key> (base64url); NULL = no password sign-in.
  ADD COLUMN password_hash text,
  ADD COLUMN oidc_issuer   text,
  ADD COLUMN oidc_subject  text;
CREATE UNIQUE INDEX users_oidc ON users (oidc_issuer, oidc_subject) WHERE oidc_subject IS NOT NULL;

-- Tokens may carry scopes beyond acting as their user (`login-sessions`: a platform web server
-- creates and ends its users' login sessions).
ALTER TABLE api_tokens
  ADD COLUMN scopes       text[] NOT NULL DEFAULT '{}',
  ADD COLUMN last_used_at timestamptz;
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- A user's sign-in: a browser's (password, OIDC), a CLI's (approved from a signed-in browser:
-- `parent_id`, ended with it), or one a platform web server created for its user. Only a digest
-- of its secret (the login cookie, or the CLI's bearer token) is stored.
CREATE TABLE login_sessions (
  id              text PRIMARY KEY,
  user_id         text NOT NULL REFERENCES users (id),
  kind            text NOT NULL CHECK (kind IN ('password', 'oidc', 'platform', 'cli')),
  secret_hash     text NOT NULL UNIQUE,
  -- Anti-forgery token of the pages and the console (returned only to the session itself).
  csrf_token      text NOT NULL,
  parent_id       text REFERENCES login_sessions (id),
  created_by      text,
  client_address  text,
  user_agent      text,
  oidc_issuer     text,
  oidc_subject    text,
  oidc_sid        text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  last_seen_at    timestamptz NOT NULL DEFAULT now(),
  ended_at        timestamptz,
  end_reason      text
);
CREATE INDEX login_sessions_user ON login_sessions (user_id, created_at);
CREATE INDEX login_sessions_live_parent ON login_sessions (parent_id) WHERE ended_at IS NULL;
CREATE INDEX login_sessions_oidc ON login_sessions (oidc_issuer, oidc_subject) WHERE ended_at IS NULL;

-- Revocation records (the truth; KV holds their projection until they expire).
CREATE TABLE revocations (
  id          text PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN ('login-session', 'token', 'user', 'circuit')),
  subject     text NOT NULL,
  at          timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL,
  reason      text NOT NULL,
  created_by  text
);
CREATE INDEX revocations_expiry ON revocations (expires_at);

-- Logout URIs admins add (the platform's web server, other apps); worker origins are derived.
CREATE TABLE logout_uris (
  id           text PRIMARY KEY,
  uri          text NOT NULL UNIQUE,
  -- Query parameter the URI takes a continuation in (it redirects there when done); NULL = it
  -- does not redirect back, so it is visited in the background.
  next_param   text,
  description  text NOT NULL DEFAULT '',
  created_by   text,
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- Which grant was handed a setup link for which circuit, until when its cookie may live: the
-- origins a logout must visit. One row per grant and circuit (the latest link).
CREATE TABLE cookie_grants (
  grant_key         text NOT NULL,
  circuit_id        text NOT NULL REFERENCES circuits (id),
  user_id           text NOT NULL,
  login_session_id  text,
  token_id          text,
  expires_at        timestamptz NOT NULL,
  PRIMARY KEY (grant_key, circuit_id)
);
CREATE INDEX cookie_grants_login_session ON cookie_grants (login_session_id) WHERE login_session_id IS NOT NULL;
CREATE INDEX cookie_grants_user ON cookie_grants (user_id);
CREATE INDEX cookie_grants_expiry ON cookie_grants (expires_at);

-- Raw TCP circuits carry the grant their access was given under (workers revoke it).
ALTER TABLE circuits
  ADD COLUMN grant_login_session text,
  ADD COLUMN grant_token         text,
  ADD COLUMN granted_at          timestamptz;
