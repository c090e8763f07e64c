/**
 * State machines of sessions and circuits. The manager's services only move an entity along
 * an edge listed here, and they do it with `UPDATE … WHERE state = ANY(<sources of that edge>)`,
 * so two managers racing on one entity can never move it backwards: the loser updates no row.
 */
import type { CircuitState, SessionState } from '../contracts/records.ts';

/**
 * Sessions: `PENDING → RUNNING → TERMINATING → TERMINATED`, and `ERROR` when the agent reports a
 * failure (from PENDING/RUNNING) or when stopping the processes fails (from TERMINATING).
 * TERMINATED and ERROR are final.
 */
export const SESSION_TRANSITIONS: Readonly<Record<SessionState, readonly SessionState[]>> = {
  PENDING: ['RUNNING', 'TERMINATING', 'ERROR'],
  RUNNING: ['TERMINATING', 'ERROR'],
  TERMINATING: ['TERMINATED', 'ERROR'],
  TERMINATED: [],
  ERROR: [],
};

/**
 * Circuits: `PENDING → ACTIVE → CLOSING → CLOSED`; a PENDING circuit may also close before it
 * ever became active (route failed, session ended). Only CLOSED releases the slot (the unique
 * indexes cover every other state), so a circuit always passes through CLOSING, where its route
 * is removed from the worker, before its slot can be reused.
 * `ACTIVE ⇄ UNAVAILABLE`: the worker stopped answering / came back and confirmed the route again;
 * an UNAVAILABLE circuit keeps its slot and its route and may be closed like an ACTIVE one.
 */
export const CIRCUIT_TRANSITIONS: Readonly<Record<CircuitState, readonly CircuitState[]>> = {
  PENDING: ['ACTIVE', 'CLOSING'],
  ACTIVE: ['UNAVAILABLE', 'CLOSING'],
  UNAVAILABLE: ['ACTIVE', 'CLOSING'],
  CLOSING: ['CLOSED'],
  CLOSED: [],
};

export const SESSION_FINAL: readonly SessionState[] = ['TERMINATED', 'ERROR'];
export const SESSION_LIVE: readonly SessionState[] = ['PENDING', 'RUNNING', 'TERMINATING'];
/** Circuits whose route must be in KV (and whose slot is held). CLOSING still holds its slot. */
export const CIRCUIT_LIVE: readonly CircuitState[] = ['PENDING', 'ACTIVE', 'UNAVAILABLE'];

export function canSessionMove(from: SessionState, to: SessionState): boolean {
  return SESSION_TRANSITIONS[from].includes(to);
}

export function canCircuitMove(from: CircuitState, to: CircuitState): boolean {
  return CIRCUIT_TRANSITIONS[from].includes(to);
}

/** The states from which `to` may be entered: the `ANY($allowed)` of a guarded UPDATE. */
export function sessionSourcesOf(to: SessionState): SessionState[] {
  return (Object.keys(SESSION_TRANSITIONS) as SessionState[]).filter((s) => canSessionMove(s, to));
}

export function circuitSourcesOf(to: CircuitState): CircuitState[] {
  return (Object.keys(CIRCUIT_TRANSITIONS) as CircuitState[]).filter((s) => canCircuitMove(s, to));
}

export function isSessionFinal(state: SessionState): boolean {
  return SESSION_FINAL.includes(state);
}

/** Whether a circuit in `state` must be served (its spec in KV): one of `CIRCUIT_LIVE`. */
export function isCircuitLive(state: CircuitState): boolean {
  return CIRCUIT_LIVE.includes(state);
}
