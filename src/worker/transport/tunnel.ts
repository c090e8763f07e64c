/**
 * Tunnels of TCP circuits in `tunnel` mode: `GET /_appproxy/tunnel` on the circuit's port,
 * upgraded to a WebSocket (subprotocol `appproxy-tunnel.v1`) that carries one TCP connection to
 * the backend. Admission, all before the handshake: a single-use tunnel token in
 * `Authorization: Bearer` (Ed25519, audience = circuit, purpose `tunnel`; 401
 * AP_ERR_TUNNEL_TOKEN_*) whose grant the revocation set does not refuse (401
 * AP_ERR_CREDENTIAL_REVOKED; AP_ERR_APP_COOKIE_UNCONFIRMED while the set is stale and the token
 * older than its last confirmation), then the circuit's connection limit (503
 * AP_ERR_CONNECTION_LIMIT). The tunnel keeps the token's grant: revoking it ends the tunnel.
 *
 * Wire protocol: binary messages carry bytes; a text message `eof` means its sender has no more
 * bytes (half-close: the worker ends the backend's write half, and sends `eof` when the backend
 * ends). The worker closes with 1000 and the close reason when the connection ends normally,
 * 4408 `idle-timeout`, 4410 `circuit-closed`, 4403 `revoked`, 4502 `backend-unreachable` or
 * `backend-closed` (the backend broke off); a client that stops answering pings is cut
 * (`peer-unresponsive`).
 *
 * Accounting: the WebSocket's socket is one of the circuit's sockets (activity is sampled from its
 * byte counters; the worker's pings and the client's pongs are discounted), and the idle clock is
 * the backend socket's timer, which only data moves, never pings. The access record's bytes are
 * the backend socket's (payload only, no framing). A tunnel is a `Connection` in the registry:
 * closing the circuit ends it (`circuit-closed`), an in-place change that leaves tunnel mode ends
 * it (`revoked`), one that changes the idle timeout re-arms it. Its heartbeat is a visit of the
 * worker's keepalive sweeper every ping interval. Per-chunk handlers are module-level.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Credential } from '../../contracts/auth.ts';
import { AppProxyError, ERRORS, type ErrorCode } from '../../contracts/errors.ts';
import type { CloseReason } from '../../contracts/records.ts';
import type { SetupTokenClaims, SetupTokenVerifier } from '../../core/setup-token.ts';
import type { CounterStore } from '../../stores/types.ts';
import { type RevocationSet, UNCONFIRMED } from '../access/revocations.ts';
import { markTokenUsed } from '../access/single-use.ts';
import { accessRecord, CLOSE_GRACE_MS, Connection, clientAddress } from '../connections/connection.ts';
import {
  CONNECT_TIMEOUT_MS,
  type Keepalive,
  type Swept,
  TCP_KEEPALIVE_MS,
} from '../connections/keepalive.ts';
import type { ConnectionRegistry } from '../connections/registry.ts';
import { writeSocketError } from '../observe/error-pages.ts';
import type { WorkerMetrics } from '../observe/metrics.ts';
import type { Circuit, TrackedSocket } from '../routing/circuit.ts';

export const TUNNEL_PATH = '/_appproxy/tunnel';
export const TUNNEL_SUBPROTOCOL = 'appproxy-tunnel.v1';
/** Default interval of the worker's pings; a client that missed one full interval is cut. */
export const DEFAULT_TUNNEL_PING_INTERVAL_MS = 30_000;
/** Largest message a client may send (clients send what one local read gives, far less). */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** An empty ping the worker sends (2 header bytes) and the masked pong that answers it (6). */
const PING_BYTES = 2;
const CONTROL_READ_OVERHEAD = 6;
const CONTROL_WRITE_OVERHEAD = 2;

const CLOSE_CODES: Record<CloseReason, number> = {
  'client-closed': 1000,
  'backend-closed': 1000,
  'idle-timeout': 4408,
  'peer-unresponsive': 1001,
  'circuit-closed': 4410,
  revoked: 4403,
  'refused-ip': 4403,
  limit: 4503,
  'backend-unreachable': 4502,
};

const kTunnel = Symbol('appproxy.tunnel');
type TunnelWs = WebSocket & { [kTunnel]?: TunnelConnection };
type TunnelSocket = Socket & { [kTunnel]?: TunnelConnection };

// ---------------------------------------------------------------- hot path (module-level handlers)

function onWsMessage(this: TunnelWs, data: Buffer, isBinary: boolean): void {
  const t = this[kTunnel]!;
  t.awaitingPong = false;
  if (isBinary && !t.clientEof) {
    if (!t.backend.destroyed && !t.backend.write(data)) this.pause();
    return;
  }
  t.control(data, isBinary);
}

function onBackendData(this: TunnelSocket, chunk: Buffer): void {
  const t = this[kTunnel]!;
  t.ws.send(chunk);
  // Same as `ws.bufferedAmount` reaching the socket's high-water mark (no compression here), and
  // the condition under which the socket will emit the 'drain' that resumes the backend.
  if (t.socket.writableNeedDrain) this.pause();
}

function onSocketDrain(this: TunnelSocket): void {
  this[kTunnel]!.backend.resume();
}

function onBackendDrain(this: TunnelSocket): void {
  this[kTunnel]!.ws.resume();
}

// ---------------------------------------------------------------- rarer events

function onBackendConnect(this: TunnelSocket): void {
  const t = this[kTunnel]!;
  t.connected = true;
  // Reads and writes refresh the timer: "no data byte in either direction" (pings never reach it).
  this.setTimeout(t.circuit.idleTimeoutMs);
}

function onBackendTimeout(this: TunnelSocket): void {
  const t = this[kTunnel]!;
  t.terminate(t.connected ? 'idle-timeout' : 'backend-unreachable');
}

function onBackendEnd(this: TunnelSocket): void {
  const t = this[kTunnel]!;
  t.backendEof = true;
  t.reason ??= 'backend-closed';
  if (t.ws.readyState === 1 /* OPEN */) t.ws.send('eof');
}

function onBackendClose(this: TunnelSocket, hadError: boolean): void {
  this[kTunnel]!.backendClosed(hadError || !this.readableEnded || !this.writableFinished);
}

function onWsClose(this: TunnelWs): void {
  this[kTunnel]!.wsClosed();
}

function onWsPong(this: TunnelWs, data: Buffer): void {
  const t = this[kTunnel]!;
  t.awaitingPong = false;
  t.circuit.discount(t.socket as TrackedSocket, CONTROL_READ_OVERHEAD + data.length, 0);
}

function onWsPing(this: TunnelWs, data: Buffer): void {
  const t = this[kTunnel]!;
  // The client's ping and the automatic pong are keepalive, not activity.
  t.circuit.discount(
    t.socket as TrackedSocket,
    CONTROL_READ_OVERHEAD + data.length,
    CONTROL_WRITE_OVERHEAD + data.length,
  );
}

function destroyAfterFinish(this: Socket): void {
  this.destroy();
}

function destroySocket(socket: Duplex): void {
  socket.destroy();
}

/** Errors are followed by 'close', which decides what happens. */
function ignoreError(): void {}

// ---------------------------------------------------------------- one tunnel

export class TunnelConnection extends Connection implements Swept {
  readonly kind = 'tunnel' as const;
  readonly backend: TunnelSocket;
  connected = false;
  clientEof = false;
  backendEof = false;
  awaitingPong = false;
  private forced = false;
  private isWsClosed = false;
  private isBackendClosed = false;

  constructor(
    registry: ConnectionRegistry,
    private readonly keepalive: Keepalive,
    private readonly pingIntervalMs: number,
    circuit: Circuit,
    readonly ws: TunnelWs,
    readonly socket: TunnelSocket,
    /** The tunnel token: its subject, grant and issue time. */
    credential: Credential,
  ) {
    super(
      registry,
      circuit,
      clientAddress(socket),
      credential.userId,
      'tunnel',
      credential.grant,
      credential.issuedAt,
    );
    ws[kTunnel] = this;
    socket[kTunnel] = this;
    registry.add(this);
    socket.setKeepAlive(true, TCP_KEEPALIVE_MS);
    socket.setNoDelay(true);
    const backend: TunnelSocket = circuit.upstream.connect();
    this.backend = backend;
    backend[kTunnel] = this;
    backend.setTimeout(Math.min(CONNECT_TIMEOUT_MS, circuit.idleTimeoutMs));
    ws.on('message', onWsMessage);
    ws.on('pong', onWsPong);
    ws.on('ping', onWsPing);
    ws.on('close', onWsClose);
    ws.on('error', ignoreError);
    socket.on('drain', onSocketDrain);
    backend.on('connect', onBackendConnect);
    backend.on('data', onBackendData);
    backend.on('drain', onBackendDrain);
    backend.on('end', onBackendEnd);
    backend.on('timeout', onBackendTimeout);
    backend.on('error', ignoreError);
    backend.on('close', onBackendClose);
    keepalive.add(this, pingIntervalMs);
  }

  /** A text message, or data after the client's `eof`. */
  control(data: Buffer, isBinary: boolean): void {
    if (!isBinary && !this.clientEof && data.length === 3 && data.toString('latin1') === 'eof') {
      this.clientEof = true;
      this.reason ??= 'client-closed';
      this.backend.end();
      return;
    }
    // Anything else breaks the protocol: the client is at fault, the connection ends.
    this.reason ??= 'client-closed';
    this.forced = true;
    this.backend.destroy();
    this.closeWs(1003, 'client-closed');
  }

  /** One heartbeat (a sweeper visit every ping interval): cut the client if it did not answer the previous ping, else ping it. */
  sweep(): void {
    if (this.isWsClosed) return;
    // A tunnel held up by backpressure reads (or writes) nothing, pongs included; the idle
    // timeout is what bounds a tunnel that stays stuck.
    if (this.ws.isPaused || this.socket.writableNeedDrain) {
      this.awaitingPong = false;
      return;
    }
    if (this.awaitingPong) {
      this.terminate('peer-unresponsive');
      return;
    }
    this.awaitingPong = true;
    this.ws.ping();
    this.circuit.discount(this.socket as TrackedSocket, 0, PING_BYTES);
  }

  terminate(reason: CloseReason): void {
    // A tunnel whose either side has already gone keeps the reason it is ending for.
    if (!this.forced && !this.isWsClosed && !this.isBackendClosed) {
      this.forced = true;
      this.reason = reason;
    }
    this.backend.destroy();
    if (this.isWsClosed) return;
    if (reason === 'peer-unresponsive') {
      this.ws.terminate();
      return;
    }
    this.closeWs(CLOSE_CODES[reason], reason);
  }

  destroy(): void {
    this.reason ??= 'circuit-closed';
    this.backend.destroy();
    this.ws.terminate();
  }

  /** Still a tunnel circuit (an access change away from tunnel mode revokes it). */
  override admitted(): boolean {
    return !this.circuit.closed && this.circuit.serving === 'tunnel';
  }

  override reconfigure(): void {
    if (this.connected) this.backend.setTimeout(this.circuit.idleTimeoutMs);
  }

  backendClosed(broken: boolean): void {
    this.isBackendClosed = true;
    // Once the client is gone, the backend's end is the worker's doing, not the backend's.
    if (!this.forced && !this.isWsClosed) {
      if (!this.connected) {
        this.forced = true;
        this.reason = 'backend-unreachable';
      } else if (broken) {
        this.forced = true;
        this.reason = 'backend-closed';
      }
    }
    if (!this.isWsClosed) {
      const reason = this.reason ?? 'backend-closed';
      const code = broken || !this.connected ? 4502 : CLOSE_CODES[reason];
      this.closeWs(code, reason);
    }
    this.maybeFinish();
  }

  wsClosed(): void {
    this.isWsClosed = true;
    this.reason ??= 'client-closed';
    // What the client sent before it went still goes to the backend; then the backend is dropped.
    if (!this.isBackendClosed) {
      if (this.backend.writableFinished) this.backend.destroy();
      else {
        this.backend.once('finish', destroyAfterFinish);
        if (!this.backend.writableEnded) this.backend.end();
      }
    }
    this.maybeFinish();
  }

  private closeWs(code: number, reason: CloseReason): void {
    if (this.ws.readyState >= 2 /* CLOSING */) return;
    this.ws.close(code, reason);
    // The close frame (2-byte header, 2-byte code, the reason) is the worker's, not activity: an
    // idle close must not restart the circuit's idle clock.
    this.circuit.discount(this.socket as TrackedSocket, 0, 4 + Buffer.byteLength(reason));
    // Closing the circuit destroys its sockets at once; keep this one out of that so the close
    // frame gets out, and do not wait long for a client that will never answer it.
    this.circuit.release(this.socket as TrackedSocket);
    setTimeout(destroySocket, CLOSE_GRACE_MS, this.socket as Duplex).unref();
  }

  private maybeFinish(): void {
    if (!this.isWsClosed || !this.isBackendClosed) return;
    this.keepalive.delete(this, this.pingIntervalMs);
    this.finish(this.backend.bytesWritten, this.backend.bytesRead);
  }
}

// ---------------------------------------------------------------- the endpoint

export interface TunnelEndpointDeps {
  verifier: SetupTokenVerifier;
  counters: CounterStore;
  revocations: RevocationSet;
  connections: ConnectionRegistry;
  keepalive: Keepalive;
  metrics: WorkerMetrics;
  logger: Logger;
  pingIntervalMs: number;
}

function pickSubprotocol(protocols: Set<string>): string | false {
  return protocols.has(TUNNEL_SUBPROTOCOL) ? TUNNEL_SUBPROTOCOL : false;
}

function offersSubprotocol(header: string | undefined): boolean {
  if (!header) return false;
  for (const p of header.split(',')) if (p.trim() === TUNNEL_SUBPROTOCOL) return true;
  return false;
}

function bearer(header: string | undefined): string | null {
  const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

export class TunnelEndpoint {
  private readonly wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    // The tunnels are tracked here (and by their circuit); ws's own set would add a closure each.
    clientTracking: false,
    maxPayload: MAX_MESSAGE_BYTES,
    handleProtocols: pickSubprotocol,
  });
  constructor(private readonly deps: TunnelEndpointDeps) {}

  /** An upgrade request for `/_appproxy/tunnel` on `circuit`'s port (socket already adopted). */
  async handle(circuit: Circuit, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    // The HTTP server stops watching the socket once it is handed over for an upgrade.
    socket.on('error', ignoreError);
    if (circuit.serving !== 'tunnel') return void this.refuse(socket, 'AP_ERR_TUNNEL_NOT_AVAILABLE');
    if (req.method !== 'GET' || req.headers.upgrade?.toLowerCase() !== 'websocket') {
      return void this.refuse(
        socket,
        'AP_ERR_BAD_REQUEST',
        'The tunnel is a WebSocket: GET with Upgrade: websocket.',
      );
    }
    if (!offersSubprotocol(req.headers['sec-websocket-protocol'])) {
      return void this.refuse(
        socket,
        'AP_ERR_BAD_REQUEST',
        `Offer the WebSocket subprotocol ${TUNNEL_SUBPROTOCOL}.`,
      );
    }
    const token = bearer(req.headers.authorization);
    if (token === null) {
      return void this.refuse(
        socket,
        'AP_ERR_TUNNEL_TOKEN_INVALID',
        'The tunnel needs Authorization: Bearer <tunnel token> (POST /v1/circuits/{id}/tunnel-token).',
      );
    }
    let claims: SetupTokenClaims;
    try {
      claims = await this.deps.verifier.verify(token, circuit.id, 'tunnel');
      this.checkRevocations(claims, true);
    } catch (err) {
      const code = err instanceof AppProxyError ? err.code : 'AP_ERR_TUNNEL_TOKEN_INVALID';
      const requestId = this.refuse(socket, code, err instanceof AppProxyError ? err.message : undefined);
      this.deps.logger.info({ requestId, circuitId: circuit.id, code, err }, 'tunnel token refused');
      return;
    }
    const userId = claims.userId;
    // Checked before the token is spent, so a client refused for load can retry with it.
    if (circuit.atConnectionLimit()) return void this.refuseLimit(circuit, socket, userId);
    let first: boolean;
    try {
      first = await markTokenUsed(this.deps.counters, claims.jti, claims.expiresAt, circuit.id);
    } catch (err) {
      // Fail closed: without the single-use mark a leaked token could be replayed.
      const requestId = this.refuse(socket, 'AP_ERR_STORE_UNAVAILABLE');
      this.deps.logger.warn({ requestId, circuitId: circuit.id, err }, 'cannot mark tunnel token used');
      return;
    }
    if (!first) return void this.refuse(socket, 'AP_ERR_TUNNEL_TOKEN_USED');
    if (circuit.closed) return void this.refuse(socket, 'AP_ERR_CIRCUIT_CLOSED');
    if (socket.destroyed) return;
    // Again: a revocation may have arrived while the mark was being written, and it would find
    // no tunnel to end.
    try {
      this.checkRevocations(claims, false);
    } catch (err) {
      const e = err as AppProxyError;
      return void this.refuse(socket, e.code, e.message);
    }
    // Again: other tunnels may have been admitted while this one's mark was being written.
    if (circuit.atConnectionLimit()) return void this.refuseLimit(circuit, socket, userId);
    // Synchronous: nothing can slip in between the checks and the new tunnel.
    this.wss.handleUpgrade(req, socket, head, (ws) => this.open(circuit, ws, socket as Socket, claims));
  }

  /**
   * Throws when the revocation set refuses the token: its grant (or its user, after it was issued)
   * revoked; with `stale`, also issued before the set was last confirmed while it is stale.
   */
  private checkRevocations(claims: SetupTokenClaims, stale: boolean): void {
    const now = Date.now();
    const refused = stale ? this.deps.revocations.check(claims, now) : this.deps.revocations.revoked(claims);
    if (refused === null) return;
    this.deps.metrics.countRevoked(refused === UNCONFIRMED ? 'unconfirmed' : 'token');
    if (refused !== UNCONFIRMED) throw new AppProxyError('AP_ERR_CREDENTIAL_REVOKED');
    throw new AppProxyError(
      'AP_ERR_APP_COOKIE_UNCONFIRMED',
      'This worker cannot confirm right now that the sign-in the tunnel token was issued under is still valid; try again shortly.',
    );
  }

  private open(circuit: Circuit, ws: WebSocket, socket: Socket, claims: SetupTokenClaims): void {
    circuit.countRequest(socket as TrackedSocket);
    this.deps.metrics.countStatus(101);
    const d = this.deps;
    new TunnelConnection(d.connections, d.keepalive, d.pingIntervalMs, circuit, ws, socket, claims);
  }

  private refuseLimit(circuit: Circuit, socket: Duplex, userId: string): void {
    this.refuse(socket, 'AP_ERR_CONNECTION_LIMIT');
    this.deps.connections.record(
      accessRecord({
        kind: 'tunnel',
        circuit,
        client: clientAddress(socket as Socket),
        userId,
        access: 'tunnel',
        bytesIn: 0,
        bytesOut: 0,
        reason: 'limit',
      }),
    );
  }

  /** Answers the upgrade request with the JSON error envelope (clients are programs) and closes. */
  private refuse(socket: Duplex, code: ErrorCode, message?: string): string {
    this.deps.metrics.countStatus(ERRORS[code].status);
    return writeSocketError(socket, code, 'application/json', message);
  }
}
