-- Per-key request and token limits of endpoint keys (null: the endpoint's own limits apply).
ALTER TABLE endpoint_keys ADD COLUMN rpm integer;
ALTER TABLE endpoint_keys ADD COLUMN tpm integer;
