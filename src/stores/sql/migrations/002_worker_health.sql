-- Distributed control plane: circuits whose worker stopped answering are UNAVAILABLE (they keep
-- their slot: the partial unique indexes cover every state but CLOSED), and workers can be
-- drained (no new circuits are allocated to a draining worker; its circuits keep running).

ALTER TABLE circuits DROP CONSTRAINT circuits_state_check;
ALTER TABLE circuits ADD CONSTRAINT circuits_state_check
  CHECK (state IN ('PENDING', 'ACTIVE', 'UNAVAILABLE', 'CLOSING', 'CLOSED'));

ALTER TABLE workers ADD COLUMN draining boolean NOT NULL DEFAULT false;
