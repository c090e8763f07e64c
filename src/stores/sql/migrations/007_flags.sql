-- Feature flags: overrides per scope (`global`, `worker:<authority>`, `user:<user id>`); flags
-- without a row take their default from the code's registry. Every change is kept (who, when).
CREATE TABLE flag_overrides (
  name        text NOT NULL,
  scope       text NOT NULL,
  value       boolean NOT NULL,
  updated_by  text,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, scope)
);

CREATE TABLE flag_changes (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  name        text NOT NULL,
  scope       text NOT NULL,
  value       boolean,
  previous    boolean,
  changed_by  text
);
CREATE INDEX flag_changes_name ON flag_changes (name, id);
