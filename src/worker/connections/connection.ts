/**
 * The live-connection model: a proxied WebSocket, a raw TCP relay or a tunnel is a `Connection`
 * of one circuit and one user. All kinds share what a production proxy must say about them and
 * do to them the same way:
 * - one client address form (`clientAddress`: `ip:port`, `[ip]:port` for IPv6, IPv4-mapped IPv6
 *   unwrapped), so records of one client agree whatever the kind;
 * - one close reason, set once: by `terminate(reason)` (circuit closed, access revoked, idle,
 *   unresponsive peer) or by whichever side ended first;
 * - one access record when it ends (`accessRecord`), with the same fields for every kind;
 * - one credential: the grant (login session, API token) it was opened under and when that was
 *   issued — the app cookie's for a WebSocket, the tunnel token's for a tunnel, the circuit spec's
 *   for a raw TCP relay — so a revocation finds it (`ConnectionRegistry.revoke`);
 * - one registry (`registry.ts`) that circuit close, access changes and revocation go through;
 * - one keepalive sweeper (`keepalive.ts`) and one close grace (`CLOSE_GRACE_MS`).
 * HTTP keep-alive sockets are not connections in this sense: they carry requests, which are
 * counted per status (observe/metrics.ts), and the circuit destroys them when it closes.
 */
import type { Grant } from '../../contracts/auth.ts';
import type { CloseReason } from '../../contracts/records.ts';
import { formatClient } from '../../core/allow-list.ts';
import type { AccessRecord, ConnectionKind } from '../observe/access-log.ts';
import type { Circuit } from '../routing/circuit.ts';

/** Where connections live while they are open: the worker's registry (registry.ts). */
export interface ConnectionHome {
  add(c: Connection): void;
  delete(c: Connection): void;
  record(r: AccessRecord): void;
}

/** The grant of a connection opened under none (tests; specs from before grants existed). */
export const NO_GRANT: Grant = Object.freeze({});

/**
 * After the worker's close frame (WebSocket, tunnel), how long the ends get to finish the close
 * handshake before their sockets are destroyed: long enough for a slow link, short enough that a
 * peer that never answers holds nothing for long.
 */
export const CLOSE_GRACE_MS = 2_000;

/** The address a socket's peer had, in the one form every record uses. */
export function clientAddress(socket: { remoteAddress?: string; remotePort?: number }): string {
  return formatClient(socket.remoteAddress, socket.remotePort);
}

/** The access record of a connection (or of one refused before it became one). */
export function accessRecord(
  r: Pick<AccessRecord, 'kind' | 'client' | 'userId' | 'access' | 'reason'> & {
    circuit: Circuit;
    bytesIn: number;
    bytesOut: number;
    startedAt?: number;
  },
): AccessRecord {
  return {
    kind: r.kind,
    circuitId: r.circuit.id,
    sessionId: r.circuit.spec.sessionId,
    userId: r.userId,
    client: r.client,
    access: r.access,
    bytesIn: r.bytesIn,
    bytesOut: r.bytesOut,
    durationMs: r.startedAt === undefined ? 0 : Date.now() - r.startedAt,
    reason: r.reason,
  };
}

export abstract class Connection {
  abstract readonly kind: ConnectionKind;
  readonly startedAt = Date.now();
  /** Why it ended (or is ending); null while it lives. */
  reason: CloseReason | null = null;
  private recorded = false;

  constructor(
    readonly registry: ConnectionHome,
    readonly circuit: Circuit,
    /** The client's address (see `clientAddress`), read while the socket was open. */
    readonly client: string,
    /** Who uses it: the tunnel token's subject; the circuit owner for cookie and raw access. */
    readonly userId: string,
    readonly access: AccessRecord['access'],
    /**
     * The grant it was opened under; a raw TCP relay takes its circuit's current one after an
     * in-place change (the registry re-indexes it then).
     */
    public grant: Grant = NO_GRANT,
    /** When its credential was issued (epoch ms, the manager's clock; 0 = unknown). */
    public issuedAt = 0,
  ) {}

  /**
   * Ends the connection (both sides) with `reason`; idempotent. Kinds with a close handshake
   * (WebSocket, tunnel) send their close frames and give the peers `CLOSE_GRACE_MS`.
   */
  abstract terminate(reason: CloseReason): void;

  /** Destroys its sockets now, close handshake or not (the worker is shutting down). */
  abstract destroy(): void;

  /**
   * After an in-place change of its circuit (`Circuit.update`): false when the circuit no longer
   * admits it (a tunnel on a circuit that is not in tunnel mode any more, a client an allow-list
   * dropped); the registry then ends it with `revoked`.
   */
  admitted(): boolean {
    return true;
  }

  /** After an in-place change that still admits it: take the circuit's new settings (idle timeout). */
  reconfigure(): void {}

  /** Leaves the registry and writes the access record, once. */
  protected finish(bytesIn: number, bytesOut: number, fallback: CloseReason = 'client-closed'): void {
    if (this.recorded) return;
    this.recorded = true;
    this.registry.delete(this);
    this.registry.record(
      accessRecord({
        kind: this.kind,
        circuit: this.circuit,
        client: this.client,
        userId: this.userId,
        access: this.access,
        bytesIn,
        bytesOut,
        startedAt: this.startedAt,
        reason: this.reason ?? fallback,
      }),
    );
  }
}
