/**
 * Counter keys (Redis role) for activity and single-use marks. Workers write activity in
 * batches; the manager's idle loops read it. Keys expire so that dead circuits leave nothing.
 */
export const counterKeys = {
  bytesIn: (circuitId: string) => `ap:act:${circuitId}:bytes_in`,
  bytesOut: (circuitId: string) => `ap:act:${circuitId}:bytes_out`,
  requests: (circuitId: string) => `ap:act:${circuitId}:requests`,
  /** Epoch ms of the last byte from the client (kept with `max`). */
  lastClientAt: (circuitId: string) => `ap:act:${circuitId}:last_client_at`,
  /** Epoch ms of the last byte from the backend (kept with `max`). */
  lastBackendAt: (circuitId: string) => `ap:act:${circuitId}:last_backend_at`,
  /** Open connections as last reported by one worker process (set, short TTL). */
  openConnections: (circuitId: string, reporter: string) => `ap:act:${circuitId}:open:${reporter}`,
  /** Single-use mark of a setup token id. */
  setupTokenUsed: (jti: string) => `ap:used:setup:${jti}`,
} as const;

/**
 * The keys Backend.AI's idle checker and coordinator read (`common/defs`, LIVE database): epoch
 * seconds as a decimal string, kept 2 days. Workers write them from the same activity as ours
 * while `legacyCoordinatorApi` is on, for circuits of sessions (a session registered through
 * `/v2/conf` has Backend.AI's session id as its id, so its key is the one Backend.AI reads).
 */
export const legacyActivityKeys = {
  circuitLastAccess: (circuitId: string) => `circuit.${circuitId}.last_access`,
  sessionLastAccess: (sessionId: string) => `session.${sessionId}.last_access`,
} as const;

export const LEGACY_ACTIVITY_TTL_MS = 2 * 24 * 3600 * 1000;

/** How long activity keys live after their last write. */
export const ACTIVITY_TTL_MS = 7 * 24 * 3600 * 1000;
