/**
 * Raw TCP circuits (`allow-list`, `public`): each accepted client socket is relayed to one of the
 * circuit's backends over a fresh connection (`Upstream.connect`), bytes both ways with
 * backpressure, half-close passed through (a FIN on one side ends the other side's write half),
 * TCP keepalive on both sides and a per-connection idle timeout that any byte in either direction
 * resets. The client socket is one of the circuit's sockets, so activity is sampled from its byte
 * counters like HTTP's; the relay is a `Connection` in the registry, so closing the circuit ends
 * it with `circuit-closed`, and an in-place change of the circuit keeps it when the new access
 * still admits its client (else `revoked`) and gives it the new idle timeout. One access record
 * per connection, written when both sockets are closed.
 *
 * A raw connection carries no credential of its own: its access was given under the circuit
 * spec's grant (`grant`, `grantedAt`, the owner). A new connection to a circuit whose grant (or
 * owner, after `grantedAt`) is revoked is refused at once (`revoked`); live relays are found by
 * that grant and ended when it is revoked, and follow the circuit's grant when access changes in
 * place.
 *
 * The hot path (a chunk) allocates nothing: each direction reads into a buffer of its own that it
 * reuses (`RelayReader`), and the other events run module-level handlers that find their relay
 * through a symbol on the socket.
 */

import { type OnReadOpts, Socket } from 'node:net';
import type { Credential } from '../../contracts/auth.ts';
import type { CloseReason } from '../../contracts/records.ts';
import type { RevocationSet } from '../access/revocations.ts';
import { accessRecord, Connection, clientAddress, NO_GRANT } from '../connections/connection.ts';
import { CONNECT_TIMEOUT_MS } from '../connections/keepalive.ts';
import type { ConnectionRegistry } from '../connections/registry.ts';
import type { WorkerMetrics } from '../observe/metrics.ts';
import type { Circuit, TrackedSocket } from '../routing/circuit.ts';

const kRelay = Symbol('appproxy.relay');
type RelaySocket = Socket & { [kRelay]?: TcpRelay };

/** Read buffer sizes: small while a direction carries little, large once a read fills it. */
export const SMALL_READ = 512;
export const LARGE_READ = 65536;

/**
 * Where one direction of a relay reads: into a buffer it reuses (`onread`), so a relayed chunk
 * allocates nothing. Why: a socket read the usual way gets a fresh 64 KiB ArrayBuffer per chunk,
 * and at bulk rates that external memory makes V8 run a full mark-compact every few dozen MiB, at
 * a cost that grows with the process's heap. Measured with bench/profile/tcp.ts on one pinned
 * core: a 'data'-event relay costs 1.05 CPU-s per GiB in a bare process and about 1.6 with a
 * worker-sized heap (V8's helper threads busy with marking); reading into reused buffers, 0.70 in
 * either, with no GC at all.
 *
 * A buffer is never overwritten while a write of it is still pending at the peer: Node asks for
 * the next buffer right after each delivery, and gets a fresh one when the peer still holds
 * unwritten bytes. The buffer is small while reads are small (an idle relay holds 2 × 512 bytes) and
 * large once a read fills it.
 */
export class RelayReader implements OnReadOpts {
  /** Process-wide: chunks relayed through readers, and read buffers they allocated. */
  static readonly stats = { reads: 0, buffers: 0 };
  private buf: Buffer = Buffer.allocUnsafe(SMALL_READ);
  private last = 0;

  constructor(
    private readonly relay: TcpRelay,
    private readonly toBackend: boolean,
  ) {}

  private peer(): Socket | undefined {
    return this.toBackend ? this.relay.backend : this.relay.clientSocket;
  }

  // Node calls these unbound: arrow properties.
  readonly buffer = (): Buffer => {
    const size =
      this.last === this.buf.length ? LARGE_READ : this.last < SMALL_READ ? SMALL_READ : this.buf.length;
    const peer = this.peer();
    if (size !== this.buf.length || (peer !== undefined && peer.writableLength > 0)) {
      this.buf = Buffer.allocUnsafe(size);
      RelayReader.stats.buffers++;
    }
    return this.buf;
  };

  readonly callback = (n: number, buf: Uint8Array): boolean => {
    this.last = n;
    RelayReader.stats.reads++;
    return this.peer()!.write((buf as Buffer).subarray(0, n));
  };
}

/**
 * An accepted socket (accepted paused: the listener sets `pauseOnConnect`) re-wrapped in a Socket
 * that reads through `reader`. net.Server takes no `onread`; the Socket constructor does, and also
 * takes an existing handle. The husk left behind is destroyed without its handle, which keeps the
 * server's connection count right. Null where the handle is not reachable: the caller then reads
 * the usual way.
 */
function withReader(accepted: Socket, reader: RelayReader): Socket | null {
  const husk = accepted as Socket & { _handle?: object | null };
  const handle = husk._handle;
  // Only a socket that has not read yet (accepted paused) can change how it reads.
  if (
    !handle ||
    typeof handle !== 'object' ||
    accepted.readableFlowing !== false ||
    accepted.readableLength > 0
  ) {
    return null;
  }
  husk._handle = null;
  husk.destroy();
  return new Socket({
    handle,
    allowHalfOpen: true,
    readable: true,
    writable: true,
    onread: reader,
  } as ConstructorParameters<typeof Socket>[0]);
}

function onClientData(this: RelaySocket, chunk: Buffer): void {
  if (!this[kRelay]!.backend.write(chunk)) this.pause();
}

function onClientDrain(this: RelaySocket): void {
  this[kRelay]!.backend.resume();
}

function onBackendDrain(this: RelaySocket): void {
  this[kRelay]!.clientSocket.resume();
}

function onClientEnd(this: RelaySocket): void {
  const r = this[kRelay]!;
  r.reason ??= 'client-closed';
  r.backend.end();
}

function onBackendEnd(this: RelaySocket): void {
  const r = this[kRelay]!;
  r.reason ??= 'backend-closed';
  r.clientSocket.end();
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

/** The credential a raw TCP circuit's connections are admitted under: its spec's grant. */
export function specCredential(circuit: Circuit): Credential {
  return {
    userId: circuit.ownerId,
    circuitId: circuit.id,
    issuedAt: circuit.spec.grantedAt ?? 0,
    grant: circuit.spec.grant ?? NO_GRANT,
  };
}

function onRelaySocketClose(this: RelaySocket, hadError: boolean): void {
  this[kRelay]!.sideClosed(this, hadError);
}

export class TcpRelay extends Connection {
  readonly kind = 'tcp' as const;
  readonly clientSocket: RelaySocket;
  readonly backend: RelaySocket;
  /** The client's address as the socket reported it, for allow-list checks after a change. */
  private readonly remoteAddress: string | undefined;
  connected = false;
  private forced = false;
  private closedSides = 0;

  constructor(
    registry: ConnectionRegistry,
    private readonly revocations: RevocationSet,
    circuit: Circuit,
    accepted: Socket,
  ) {
    const cred = specCredential(circuit);
    super(
      registry,
      circuit,
      clientAddress(accepted),
      circuit.ownerId,
      circuit.access ?? 'public',
      cred.grant,
      cred.issuedAt,
    );
    this.remoteAddress = accepted.remoteAddress;
    const own: RelaySocket | null = withReader(accepted, new RelayReader(this, true));
    const client: RelaySocket = own ?? accepted;
    this.clientSocket = client;
    client[kRelay] = this;
    circuit.adopt(client as TrackedSocket);
    circuit.countRequest(client as TrackedSocket);
    registry.add(this);
    const backend: RelaySocket = circuit.upstream.connect(new RelayReader(this, false));
    this.backend = backend;
    backend[kRelay] = this;
    backend.setTimeout(CONNECT_TIMEOUT_MS);
    // No-delay and keepalive are already set on the client: the listener applies them at accept
    // (frontend/port.ts), and a re-wrapped socket would not know it and set them again (five
    // setsockopt calls, a seventh of a connection's syscalls).
    // Reads and writes refresh a socket's timer, so this is "no byte in either direction".
    client.setTimeout(circuit.idleTimeoutMs);
    if (own === null) {
      client.on('data', onClientData);
      client.resume(); // accepted paused
    }
    client.on('drain', onClientDrain);
    client.on('end', onClientEnd);
    client.on('timeout', onClientTimeout);
    client.on('error', ignoreError);
    client.on('close', onRelaySocketClose);
    backend.on('connect', onBackendConnect);
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
    this.clientSocket.destroy();
    this.backend.destroy();
  }

  destroy(): void {
    this.terminate('circuit-closed');
  }

  /** Still a raw TCP circuit, (allow-list) still listing this client, its grant not revoked. */
  override admitted(): boolean {
    const c = this.circuit;
    if (c.closed || c.serving !== 'tcp') return false;
    if (c.allowList && !c.allowList.allows(this.remoteAddress)) return false;
    return this.revocations.revoked(specCredential(c)) === null;
  }

  /** The new idle timeout, and the grant the circuit's access is now given under. */
  override reconfigure(): void {
    this.clientSocket.setTimeout(this.circuit.idleTimeoutMs);
    const cred = specCredential(this.circuit);
    this.grant = cred.grant;
    this.issuedAt = cred.issuedAt;
  }

  sideClosed(side: RelaySocket, hadError: boolean): void {
    if (!this.forced) {
      // (A backend still connecting when the client left was dropped by us: client-closed.)
      if (side === this.backend && !this.connected && this.closedSides === 0) {
        this.forced = true;
        this.reason = 'backend-unreachable';
      } else this.reason ??= side === this.clientSocket ? 'client-closed' : 'backend-closed';
    }
    // A side that ended cleanly both ways leaves its peer to flush what it still holds; any other
    // close (reset, error, destroy) takes the peer down with it.
    if (hadError || !side.readableEnded || !side.writableFinished) {
      (side === this.clientSocket ? this.backend : this.clientSocket).destroy();
    }
    if (++this.closedSides === 2) this.finish(this.clientSocket.bytesRead, this.clientSocket.bytesWritten);
  }
}

/**
 * A raw TCP client accepted on the circuit's port: refused at once (with an access record) when
 * its address is not allowed, the grant the circuit's access was given under is revoked or the
 * circuit is at its connection limit; relayed otherwise.
 */
export function acceptTcp(
  deps: { connections: ConnectionRegistry; revocations: RevocationSet; metrics: WorkerMetrics },
  circuit: Circuit,
  socket: Socket,
): void {
  const registry = deps.connections;
  let refused: CloseReason | null = null;
  if (circuit.closed) refused = 'circuit-closed';
  else if (circuit.allowList && !circuit.allowList.allows(socket.remoteAddress)) refused = 'refused-ip';
  else if (deps.revocations.size > 0 && deps.revocations.revoked(specCredential(circuit)) !== null) {
    refused = 'revoked';
    deps.metrics.countRevoked('tcp');
  } else if (circuit.atConnectionLimit()) refused = 'limit';
  if (refused === null) {
    new TcpRelay(registry, deps.revocations, circuit, socket);
    return;
  }
  const client = clientAddress(socket);
  socket.on('error', ignoreError);
  socket.destroy();
  registry.record(
    accessRecord({
      kind: 'tcp',
      circuit,
      client,
      userId: circuit.ownerId,
      access: circuit.access ?? 'public',
      bytesIn: 0,
      bytesOut: 0,
      reason: refused,
    }),
  );
}
