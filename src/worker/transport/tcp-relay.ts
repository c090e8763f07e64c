/**
 * Raw TCP circuits (`allow-list`, `public`): each accepted client socket is relayed to the
 * circuit's backend over a fresh connection, bytes both ways with backpressure, half-close passed
 * through (a FIN on one side ends the other side's write half), TCP keepalive on both sides and a
 * per-connection idle timeout that any byte in either direction resets. The client socket is one
 * of the circuit's sockets, so activity is sampled from its byte counters like HTTP's, and the
 * relay is one of the circuit's long-lived connections, so closing the circuit ends it with
 * `circuit-closed`. One access record per connection, written when both sockets are closed.
 *
 * The hot path (a chunk) allocates nothing: each direction reads into a buffer of its own that it
 * reuses (`RelayReader`), and the other events run module-level handlers that find their relay
 * through a symbol on the socket.
 */
import { connect, type OnReadOpts, Socket } from 'node:net';
import type { CloseReason } from '../../contracts/records.ts';
import { formatClient } from '../../core/allow-list.ts';
import type { AccessLog } from '../observe/access-log.ts';
import type { Circuit, LongLivedConnection, TrackedSocket } from '../routing/circuit.ts';

/** TCP keepalive probes start after this long without traffic (vanished peers are found). */
export const KEEPALIVE_MS = 30_000;
/** How long a backend may take to accept the connection. */
export const CONNECT_TIMEOUT_MS = 10_000;

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
    return this.toBackend ? this.relay.backend : this.relay.client;
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
export function connectBackend(circuit: Circuit, onread?: OnReadOpts): Socket {
  const { host, port } = circuit.backend;
  const backend = connect({
    host,
    port,
    allowHalfOpen: true,
    noDelay: true,
    keepAlive: true,
    keepAliveInitialDelay: KEEPALIVE_MS,
    ...(onread ? { onread } : {}),
  });
  circuit.trackUpstream(backend);
  return backend;
}

export class TcpRelay implements LongLivedConnection {
  readonly kind = 'tcp' as const;
  readonly client: RelaySocket;
  readonly backend: RelaySocket;
  /** The client's address, read while the socket is open (a closed socket has none). */
  private readonly clientAddress: string | undefined;
  private readonly clientName: string;
  readonly startedAt = Date.now();
  /** Why it ended: the first side to end, unless `terminate` forced a reason. */
  reason: CloseReason | null = null;
  connected = false;
  private forced = false;
  private closedSides = 0;

  constructor(
    private readonly access: AccessLog,
    public circuit: Circuit,
    accepted: Socket,
  ) {
    const own: RelaySocket | null = withReader(accepted, new RelayReader(this, true));
    const client: RelaySocket = own ?? accepted;
    this.client = client;
    this.clientAddress = accepted.remoteAddress;
    this.clientName = formatClient(accepted.remoteAddress, accepted.remotePort);
    client[kRelay] = this;
    circuit.adopt(client as TrackedSocket);
    circuit.countRequest(client as TrackedSocket);
    circuit.longLived.add(this);
    const backend: RelaySocket = connectBackend(circuit, new RelayReader(this, false));
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
    this.client.destroy();
    this.backend.destroy();
  }

  /**
   * Moves the live relay to the circuit's replacement (route update) when it still admits this
   * client; false when it does not (the caller then ends it with `revoked`).
   */
  carryTo(next: Circuit): boolean {
    if (next.closed || (next.access !== 'allow-list' && next.access !== 'public')) return false;
    if (next.allowList && !next.allowList.allows(this.clientAddress)) return false;
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
      client: this.clientName,
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
