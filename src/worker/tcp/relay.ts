/**
 * Raw TCP circuits (`allow-list`, `public`): each accepted client socket is relayed to the
 * circuit's backend over a fresh connection, bytes both ways with backpressure, half-close passed
 * through (a FIN on one side ends the other side's write half), TCP keepalive on both sides and a
 * per-connection idle timeout that any byte in either direction resets. The client socket is one
 * of the circuit's sockets, so activity is sampled from its byte counters like HTTP's, and the
 * relay is one of the circuit's long-lived connections, so closing the circuit ends it with
 * `circuit-closed`. One access record per connection, written when both sockets are closed.
 *
 * The hot path (a chunk) runs module-level handlers that find their relay through a symbol on the
 * socket: no closure or allocation per chunk or per connection beyond the relay itself.
 */
import { connect, type Socket } from 'node:net';
import type { CloseReason } from '../../contracts/records.ts';
import type { AccessLog } from '../access-log.ts';
import type { Circuit, LongLivedConnection, TrackedSocket } from '../circuit.ts';
import { formatClient } from './allow-list.ts';

/** TCP keepalive probes start after this long without traffic (vanished peers are found). */
export const KEEPALIVE_MS = 30_000;
/** How long a backend may take to accept the connection. */
export const CONNECT_TIMEOUT_MS = 10_000;

const kRelay = Symbol('appproxy.relay');
type RelaySocket = Socket & { [kRelay]?: TcpRelay };

function onClientData(this: RelaySocket, chunk: Buffer): void {
  if (!this[kRelay]!.backend.write(chunk)) this.pause();
}

function onBackendData(this: RelaySocket, chunk: Buffer): void {
  if (!this[kRelay]!.client.write(chunk)) this.pause();
}

function onClientDrain(this: RelaySocket): void {
  this[kRelay]!.backend.resume();
}

function onBackendDrain(this: RelaySocket): void {
  this[kRelay]!.client.resume();
}

function onClientEnd(this: RelaySocket): void {
  const r = this[kRelay]!;
  r.reason ??= 'client-closed';
  r.backend.end();
}

function onBackendEnd(this: RelaySocket): void {
  const r = this[kRelay]!;
  r.reason ??= 'backend-closed';
  r.client.end();
}

function onBackendConnect(this: RelaySocket): void {
  this[kRelay]!.connected = true;
  // The idle clock is the client socket's; the backend's timer only bounded the connect.
  this.setTimeout(0);
}

function onClientTimeout(this: RelaySocket): void {
  this[kRelay]!.terminate('idle-timeout');
}

function onBackendTimeout(this: RelaySocket): void {
  this[kRelay]!.terminate('backend-unreachable');
}

/** Errors are followed by 'close' (with hadError), which decides what happens. */
function ignoreError(): void {}

function onRelaySocketClose(this: RelaySocket, hadError: boolean): void {
  this[kRelay]!.sideClosed(this, hadError);
}

/**
 * Opens the connection to the circuit's backend for one relayed or tunnelled connection: half-close
 * passes through, no Nagle delay, keepalive so a vanished backend is found; one of the circuit's
 * upstreams, so closing the circuit destroys it.
 */
export function connectBackend(circuit: Circuit): Socket {
  const { host, port } = circuit.backend;
  const backend = connect({
    host,
    port,
    allowHalfOpen: true,
    noDelay: true,
    keepAlive: true,
    keepAliveInitialDelay: KEEPALIVE_MS,
  });
  circuit.trackUpstream(backend);
  return backend;
}

export class TcpRelay implements LongLivedConnection {
  readonly kind = 'tcp' as const;
  readonly backend: RelaySocket;
  readonly startedAt = Date.now();
  /** Why it ended: the first side to end, unless `terminate` forced a reason. */
  reason: CloseReason | null = null;
  connected = false;
  private forced = false;
  private closedSides = 0;

  constructor(
    private readonly access: AccessLog,
    public circuit: Circuit,
    readonly client: RelaySocket,
  ) {
    client[kRelay] = this;
    circuit.adopt(client as TrackedSocket);
    circuit.countRequest(client as TrackedSocket);
    circuit.longLived.add(this);
    const backend: RelaySocket = connectBackend(circuit);
    this.backend = backend;
    backend[kRelay] = this;
    backend.setTimeout(CONNECT_TIMEOUT_MS);
    client.setNoDelay(true);
    client.setKeepAlive(true, KEEPALIVE_MS);
    // Reads and writes refresh a socket's timer, so this is "no byte in either direction".
    client.setTimeout(circuit.idleTimeoutMs);
    client.on('data', onClientData);
    client.on('drain', onClientDrain);
    client.on('end', onClientEnd);
    client.on('timeout', onClientTimeout);
    client.on('error', ignoreError);
    client.on('close', onRelaySocketClose);
    backend.on('connect', onBackendConnect);
    backend.on('data', onBackendData);
    backend.on('drain', onBackendDrain);
    backend.on('end', onBackendEnd);
    backend.on('timeout', onBackendTimeout);
    backend.on('error', ignoreError);
    backend.on('close', onRelaySocketClose);
  }

  terminate(reason: CloseReason): void {
    if (!this.forced) {
      this.forced = true;
      this.reason = reason;
    }
    this.client.destroy();
    this.backend.destroy();
  }

  /**
   * Moves the live relay to the circuit's replacement (route update) when it still admits this
   * client; false when it does not (the caller then ends it with `revoked`).
   */
  carryTo(next: Circuit): boolean {
    if (next.closed || (next.access !== 'allow-list' && next.access !== 'public')) return false;
    if (next.allowList && !next.allowList.allows(this.client.remoteAddress)) return false;
    this.circuit.longLived.delete(this);
    next.longLived.add(this);
    next.adopt(this.client as TrackedSocket, true);
    next.trackUpstream(this.backend);
    this.circuit = next;
    this.client.setTimeout(next.idleTimeoutMs);
    return true;
  }

  sideClosed(side: RelaySocket, hadError: boolean): void {
    if (!this.forced) {
      // (A backend still connecting when the client left was dropped by us: client-closed.)
      if (side === this.backend && !this.connected && this.closedSides === 0) {
        this.forced = true;
        this.reason = 'backend-unreachable';
      } else this.reason ??= side === this.client ? 'client-closed' : 'backend-closed';
    }
    // A side that ended cleanly both ways leaves its peer to flush what it still holds; any other
    // close (reset, error, destroy) takes the peer down with it.
    if (hadError || !side.readableEnded || !side.writableFinished) {
      (side === this.client ? this.backend : this.client).destroy();
    }
    if (++this.closedSides === 2) this.finish();
  }

  private finish(): void {
    const c = this.circuit;
    c.longLived.delete(this);
    this.access.record({
      kind: 'tcp',
      circuitId: c.id,
      sessionId: c.spec.sessionId,
      userId: c.ownerId,
      client: formatClient(this.client.remoteAddress, this.client.remotePort),
      access: c.access ?? 'public',
      bytesIn: this.client.bytesRead,
      bytesOut: this.client.bytesWritten,
      durationMs: Date.now() - this.startedAt,
      reason: this.reason ?? 'client-closed',
    });
  }
}

/**
 * A raw TCP client accepted on the circuit's port: refused at once (with an access record) when
 * its address is not allowed or the circuit is at its connection limit, relayed otherwise.
 */
export function acceptTcp(access: AccessLog, circuit: Circuit, socket: Socket): void {
  let refused: CloseReason | null = null;
  if (circuit.closed) refused = 'circuit-closed';
  else if (circuit.allowList && !circuit.allowList.allows(socket.remoteAddress)) refused = 'refused-ip';
  else if (circuit.atConnectionLimit()) refused = 'limit';
  if (refused === null) {
    new TcpRelay(access, circuit, socket);
    return;
  }
  const client = formatClient(socket.remoteAddress, socket.remotePort);
  socket.on('error', ignoreError);
  socket.destroy();
  access.record({
    kind: 'tcp',
    circuitId: circuit.id,
    sessionId: circuit.spec.sessionId,
    userId: circuit.ownerId,
    client,
    access: circuit.access ?? 'public',
    bytesIn: 0,
    bytesOut: 0,
    durationMs: 0,
    reason: refused,
  });
}
