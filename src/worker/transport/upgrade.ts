/**
 * WebSocket (and any HTTP/1.1 upgrade) proxying: the handshake goes upstream on a fresh
 * connection with the client's request line and headers (Upgrade, Connection: Upgrade,
 * Sec-WebSocket-*, Origin, Cookie minus app cookies, X-Forwarded-*); the upstream's 101 is relayed
 * and the two sockets are linked. A non-101 answer is relayed and the socket closed. Both sockets
 * belong to the circuit, so closing the circuit closes the WebSocket. Bytes are counted from the
 * client socket's counters (see `Circuit.sample`).
 *
 * A 101 to `Upgrade: websocket` is relayed chunk by chunk as before (no copies, no reframing), but
 * each direction's frame boundaries are tracked (`ws-frames.ts`) so that the worker can:
 * - close a WebSocket that moved no data frame (opcodes 0–2, either way) for the route's
 *   `idleTimeoutMs` (reason `idle-timeout`): close frame 1001 to both ends, then both sockets go;
 * - tell a dead client from a quiet one: after one ping interval without a byte from the client
 *   it writes a ping (between two frames of the backend's stream); no byte from the client within
 *   one more ping interval closes it (reason `peer-unresponsive`), unless the relay itself stopped
 *   reading the client (the backend lags) or the kernel keeps taking output for the client (a slow
 *   reader whose pong is queued behind that output);
 * - keep control frames (pings, pongs, closes, its own or relayed) out of the circuit's activity
 *   (`Circuit.discount`), so that keepalives never hold a circuit open;
 * - write one access record per WebSocket when it ends.
 * The client's pong is forwarded to the backend: an unsolicited pong is legal (RFC 6455 §5.5.3)
 * and ignored by servers, while dropping it would mean cutting it out of a chunk.
 * Any other upgrade (not a WebSocket) is relayed as raw bytes, as it always was.
 */
import { type ClientRequest, type IncomingMessage, request } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { DEFAULT_CONNECTION_IDLE_TIMEOUT_MS } from '../../contracts/circuit-spec.ts';
import { ERRORS } from '../../contracts/errors.ts';
import type { CloseReason } from '../../contracts/records.ts';
import type { WorkerContext } from '../frontend/dispatch.ts';
import { writeSocketError } from '../observe/error-pages.ts';
import type { Circuit, TrackedSocket } from '../routing/circuit.ts';
import { downstreamHeaders } from './headers.ts';
import { upstreamErrorCode } from './http.ts';
import { closeFrames, FrameTracker, PING_FRAME } from './ws-frames.ts';

function headBlock(status: number, message: string | undefined, flat: string[]): string {
  let s = `HTTP/1.1 ${status} ${message ?? ''}\r\n`;
  for (let i = 0; i < flat.length; i += 2) s += `${flat[i]}: ${flat[i + 1]}\r\n`;
  return `${s}\r\n`;
}

/**
 * Raw relay of a non-WebSocket upgrade: bytes both ways with backpressure. Module-level handlers
 * and a peer pointer on each socket instead of `pipe()` (≈ 8 closures and listeners per
 * direction) and per-connection closures: an idle connection should cost little more than its
 * two sockets.
 */
const kPeer = Symbol('appproxy.peer');
type Linked = Duplex & { [kPeer]?: Linked };

function relayData(this: Linked, chunk: Buffer): void {
  const peer = this[kPeer]!;
  if (!peer.write(chunk)) this.pause();
}

function relayDrain(this: Linked): void {
  this[kPeer]?.resume();
}

function relayEnd(this: Linked): void {
  this[kPeer]?.end();
}

function destroyBoth(this: Linked): void {
  const peer = this[kPeer];
  this.destroy();
  peer?.destroy();
}

function link(a: Linked, b: Linked): void {
  a[kPeer] = b;
  b[kPeer] = a;
  for (const s of [a, b]) {
    s.on('data', relayData);
    s.on('drain', relayDrain);
    s.on('error', destroyBoth);
    s.on('close', destroyBoth);
    s.on('end', relayEnd); // half-close passes through, as pipe() did
  }
}

// ---------------------------------------------------------------------------------------------
// WebSocket relay with idle timeout and keepalive pings.

const MAX_PING_INTERVAL_MS = 30_000;
const MIN_PING_INTERVAL_MS = 100;
/**
 * Ping interval, which is also the pong timeout: a third of the idle timeout (so a dead client is
 * found, after a ping and one more interval, before the idle timeout would fire), at most 30 s
 * (what browsers, proxies and load balancers commonly tolerate between packets), at least 100 ms.
 */
export function pingIntervalFor(idleTimeoutMs: number): number {
  if (!(idleTimeoutMs > 0)) return MAX_PING_INTERVAL_MS;
  return Math.min(MAX_PING_INTERVAL_MS, Math.max(MIN_PING_INTERVAL_MS, Math.floor(idleTimeoutMs / 3)));
}
/** After the worker's close frame, how long the ends get to finish the close handshake. */
const CLOSE_GRACE_MS = 1000;

const IDLE_CLOSE = closeFrames('idle-timeout');
const UNRESPONSIVE_CLOSE = closeFrames('peer-unresponsive');

const kWs = Symbol('appproxy.ws');
type WsSocket = Socket & { [kWs]?: WsConn };

/**
 * One relayed WebSocket: plain fields only (no closures, no timers of its own); its clocks are
 * read by the sweeper of its tick, so a relayed chunk costs a frame-header walk and no clock read.
 */
class WsConn {
  readonly c2b = new FrameTracker();
  readonly b2c = new FrameTracker();
  reason: CloseReason | null = null;
  /** The worker decided to close: no more relaying; both sockets go by `closeDeadline`. */
  closing = false;
  closeDeadline = 0;
  recorded = false;
  /** Clocks, as of the sweeps that saw the counts move. */
  seenClientBytes = 0;
  lastClientAt: number;
  seenDataBytes = 0;
  lastDataAt: number;
  /** A ping waits for the end of the frame the backend is sending. */
  pingDue = false;
  /**
   * When the outstanding ping was written (0 = none), the client's byte count then, and how much
   * of the client socket's output the kernel had taken then.
   */
  pingSentAt = 0;
  pingMark = 0;
  pingFlushed = 0;

  constructor(
    readonly ctx: WorkerContext,
    readonly circuit: Circuit,
    readonly client: WsSocket,
    readonly upstream: WsSocket,
    readonly idleTimeoutMs: number,
    readonly pingIntervalMs: number,
    readonly sweeper: Sweeper,
    readonly clientAddress: string,
    readonly startedAt: number,
  ) {
    this.lastClientAt = startedAt;
    this.lastDataAt = startedAt;
  }

  get clientBytes(): number {
    return this.c2b.dataBytes + this.c2b.controlBytes;
  }
}

/** Output the kernel took from `s` (written minus still queued in the socket). */
function flushed(s: Socket): number {
  return s.bytesWritten - s.writableLength;
}

function sendPing(c: WsConn, now: number): void {
  c.pingDue = false;
  c.pingSentAt = now;
  c.pingMark = c.clientBytes;
  c.client.write(PING_FRAME);
  c.pingFlushed = flushed(c.client);
  c.circuit.discount(c.client, 0, PING_FRAME.length);
}

/** The worker ends the WebSocket: close frames where a frame may start, then both sockets go. */
function shut(c: WsConn, reason: CloseReason): void {
  c.reason ??= reason;
  c.closing = true;
  c.closeDeadline = Date.now() + CLOSE_GRACE_MS;
  const frames = reason === 'idle-timeout' ? IDLE_CLOSE : UNRESPONSIVE_CLOSE;
  // Mid-frame, a close frame would corrupt the stream: then the socket is just ended.
  if (c.c2b.atBoundary && !c.upstream.writableEnded) c.upstream.write(frames.toBackend);
  c.upstream.end();
  c.upstream.resume();
  if (reason === 'peer-unresponsive') {
    c.client.destroy(); // nothing reads it: waiting for a close handshake would only hold memory
    return;
  }
  if (c.b2c.atBoundary && !c.client.writableEnded) {
    c.client.write(frames.toClient);
    c.circuit.discount(c.client, 0, frames.toClient.length);
  }
  c.client.end();
  c.client.resume(); // reads (and drops) the client's close frame, then its FIN
}

function destroyWs(c: WsConn): void {
  c.client.destroy();
  c.upstream.destroy();
}

/**
 * Reads each connection's counts once per tick: data moved → idle clock reset; any client byte →
 * alive; then idle timeout, pong timeout or a due ping.
 */
function sweep(s: Sweeper): void {
  const now = Date.now();
  for (const c of s.conns) {
    if (c.closing) {
      if (now >= c.closeDeadline) destroyWs(c);
      continue;
    }
    const clientBytes = c.clientBytes;
    if (c.client.isPaused()) {
      // The relay stopped reading the client because the backend does not keep up: its silence
      // (or a pong stuck behind its upload) says nothing about the client.
      c.lastClientAt = now;
      c.pingSentAt = 0;
    } else if (clientBytes !== c.seenClientBytes) {
      c.seenClientBytes = clientBytes;
      c.lastClientAt = now;
    }
    const data = c.c2b.dataBytes + c.b2c.dataBytes;
    if (data !== c.seenDataBytes) {
      c.seenDataBytes = data;
      c.lastDataAt = now;
    }
    if (c.idleTimeoutMs > 0 && now - c.lastDataAt >= c.idleTimeoutMs) {
      shut(c, 'idle-timeout');
      continue;
    }
    if (c.pingSentAt !== 0) {
      if (clientBytes !== c.pingMark) c.pingSentAt = 0;
      else if (now - c.pingSentAt >= c.pingIntervalMs) {
        // A client that is still taking the backend's output (the kernel keeps accepting it) is
        // alive but slow to reach the ping behind that output: give it another interval.
        const out = flushed(c.client);
        if (out > c.pingFlushed) {
          c.pingSentAt = now;
          c.pingFlushed = out;
        } else {
          shut(c, 'peer-unresponsive');
          continue;
        }
      }
    }
    // A client whose output the backend half-closed can take no ping; the idle timeout still applies.
    if (
      c.pingSentAt === 0 &&
      !c.pingDue &&
      now - c.lastClientAt >= c.pingIntervalMs &&
      !c.client.writableEnded
    ) {
      if (c.b2c.atBoundary) sendPing(c, now);
      else c.pingDue = true;
    }
  }
}

/**
 * One interval per tick length for all WebSockets of the process (ticks are powers of two from
 * 32 ms to ~1 s, a quarter of the ping interval, so a process has a handful at most): 10k idle
 * WebSockets on the default 30 min timeout cost one 1 s interval walking 10k objects, not 10k
 * timers. The registry is process-wide like Node's own timer lists, and holds nothing while no
 * WebSocket is open.
 */
class Sweeper {
  readonly conns = new Set<WsConn>();
  private timer: NodeJS.Timeout | null = null;

  constructor(readonly tickMs: number) {}

  add(c: WsConn): void {
    this.conns.add(c);
    if (this.timer === null) {
      this.timer = setInterval(sweep, this.tickMs, this);
      this.timer.unref();
    }
  }

  delete(c: WsConn): void {
    this.conns.delete(c);
    if (this.conns.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}

const sweepers = new Map<number, Sweeper>();

function sweeperFor(pingIntervalMs: number): Sweeper {
  let tick = 32;
  while (tick < 1024 && tick * 2 * 4 <= pingIntervalMs) tick *= 2;
  let s = sweepers.get(tick);
  if (s === undefined) {
    s = new Sweeper(tick);
    sweepers.set(tick, s);
  }
  return s;
}

/** Relays backend → client; a due ping goes in at the first frame boundary. */
function wsUpstreamData(this: WsSocket, chunk: Buffer): void {
  const c = this[kWs]!;
  if (c.closing) return;
  const t = c.b2c;
  const ctl = t.controlBytes;
  let ok: boolean;
  if (!c.pingDue) {
    t.feed(chunk, 0, chunk.length, false);
    ok = c.client.write(chunk);
  } else {
    const at = t.feed(chunk, 0, chunk.length, true);
    if (!t.atBoundary)
      ok = c.client.write(chunk); // the frame goes on past this chunk
    else {
      if (at > 0) c.client.write(at === chunk.length ? chunk : chunk.subarray(0, at));
      sendPing(c, Date.now());
      if (at < chunk.length) {
        t.feed(chunk, at, chunk.length, false);
        ok = c.client.write(chunk.subarray(at));
      } else ok = !c.client.writableNeedDrain;
    }
  }
  if (t.controlBytes !== ctl) c.circuit.discount(c.client, 0, t.controlBytes - ctl);
  if (c.reason === null && t.closeSeen) c.reason = 'backend-closed';
  if (!ok) this.pause();
}

/** Relays client → backend. */
function wsClientData(this: WsSocket, chunk: Buffer): void {
  const c = this[kWs]!;
  const t = c.c2b;
  const ctl = t.controlBytes;
  t.feed(chunk, 0, chunk.length, false);
  // Once the worker closes, what still comes (the client's close frame, mostly) is read and
  // dropped, but walked all the same: its control frames must not count as activity either.
  const ok = c.closing || c.upstream.write(chunk);
  if (t.controlBytes !== ctl) c.circuit.discount(c.client, t.controlBytes - ctl, 0);
  if (c.reason === null && t.closeSeen) c.reason = 'client-closed';
  if (!ok) this.pause();
}

function otherEnd(c: WsConn, s: WsSocket): WsSocket {
  return s === c.client ? c.upstream : c.client;
}

function wsDrain(this: WsSocket): void {
  const c = this[kWs]!;
  otherEnd(c, this).resume();
}

/** Whoever ends or fails first closed it (unless a close frame or the worker said so before). */
function noteCloser(c: WsConn, s: WsSocket): void {
  if (c.reason === null) {
    c.reason = c.circuit.closed ? 'circuit-closed' : s === c.client ? 'client-closed' : 'backend-closed';
  }
}

function wsEnd(this: WsSocket): void {
  const c = this[kWs]!;
  noteCloser(c, this);
  if (c.closing) this.destroy();
  else otherEnd(c, this).end(); // half-close passes through
}

function wsError(this: WsSocket): void {
  const c = this[kWs]!;
  noteCloser(c, this);
  destroyWs(c);
}

function wsClose(this: WsSocket): void {
  const c = this[kWs]!;
  noteCloser(c, this);
  destroyWs(c);
  if (c.recorded) return;
  c.recorded = true;
  c.sweeper.delete(c);
  c.ctx.access.record({
    kind: 'websocket',
    access: 'cookie',
    circuitId: c.circuit.id,
    sessionId: c.circuit.spec.sessionId,
    userId: c.circuit.ownerId,
    client: c.clientAddress,
    bytesIn: c.c2b.dataBytes,
    bytesOut: c.b2c.dataBytes,
    durationMs: Date.now() - c.startedAt,
    reason: c.reason!,
  });
}

function addressOf(s: Socket): string {
  const a = s.remoteAddress ?? 'unknown';
  return a.includes(':') ? `[${a}]:${s.remotePort}` : `${a}:${s.remotePort}`;
}

function linkWebSocket(
  ctx: WorkerContext,
  circuit: Circuit,
  client: WsSocket,
  upstream: WsSocket,
  head: Buffer,
  upHead: Buffer,
): void {
  const idleTimeoutMs = circuit.spec.idleTimeoutMs ?? DEFAULT_CONNECTION_IDLE_TIMEOUT_MS;
  const pingIntervalMs = pingIntervalFor(idleTimeoutMs);
  const sweeper = sweeperFor(pingIntervalMs);
  const c = new WsConn(
    ctx,
    circuit,
    client,
    upstream,
    idleTimeoutMs,
    pingIntervalMs,
    sweeper,
    addressOf(client),
    Date.now(),
  );
  client[kWs] = c;
  upstream[kWs] = c;
  // Bytes that came with the handshakes are frames already: they go through the trackers too.
  if (upHead.length > 0) {
    c.b2c.feed(upHead, 0, upHead.length, false);
    client.write(upHead);
    if (c.b2c.controlBytes > 0) circuit.discount(client as TrackedSocket, 0, c.b2c.controlBytes);
  }
  if (head.length > 0) {
    c.c2b.feed(head, 0, head.length, false);
    upstream.write(head);
    if (c.c2b.controlBytes > 0) circuit.discount(client as TrackedSocket, c.c2b.controlBytes, 0);
  }
  client.on('data', wsClientData);
  upstream.on('data', wsUpstreamData);
  for (const s of [client, upstream]) {
    s.on('drain', wsDrain);
    s.on('error', wsError);
    s.on('close', wsClose);
    s.on('end', wsEnd);
  }
  sweeper.add(c);
}

export function proxyUpgrade(
  ctx: WorkerContext,
  circuit: Circuit,
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
): void {
  const { host, port } = circuit.backend;
  let answered = false;
  const up: ClientRequest = request({
    host,
    port,
    method: req.method,
    path: req.url,
    headers: ctx.forwarding.upstreamHeaders(req, true),
    setHost: false,
    agent: false,
  });
  const timer = setTimeout(
    () => up.destroy(Object.assign(new Error('headers timeout'), { code: 'UND_ERR_HEADERS_TIMEOUT' })),
    ctx.upstreamHeadersTimeoutMs,
  );
  timer.unref();
  const onClientGone = () => {
    if (!answered) up.destroy();
  };
  client.once('close', onClientGone);
  up.on('socket', (s: Socket) => circuit.trackUpstream(s));

  up.on('upgrade', (res: IncomingMessage, upSocket: Socket, upHead: Buffer) => {
    answered = true;
    clearTimeout(timer);
    client.off('close', onClientGone);
    if (client.destroyed || circuit.closed) {
      upSocket.destroy();
      client.destroy();
      return;
    }
    ctx.metrics.countStatus(101);
    upSocket.setNoDelay(true);
    (client as Socket).setNoDelay?.(true);
    // A 101 needs its Upgrade/Connection headers, so they are relayed as the app sent them.
    const flat: string[] = [];
    for (let i = 0; i < res.rawHeaders.length; i += 2) flat.push(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
    client.write(headBlock(101, res.statusMessage, flat));
    if (res.headers.upgrade?.toLowerCase() === 'websocket') {
      linkWebSocket(ctx, circuit, client as WsSocket, upSocket, head, upHead);
      return;
    }
    if (upHead.length > 0) client.write(upHead);
    if (head.length > 0) upSocket.write(head);
    link(client, upSocket);
  });

  up.on('response', (res: IncomingMessage) => {
    answered = true;
    clearTimeout(timer);
    client.off('close', onClientGone);
    ctx.metrics.countStatus(res.statusCode ?? 502);
    const flat = downstreamHeaders(res.headers);
    flat.push('connection', 'close');
    client.on('error', () => res.destroy());
    client.write(headBlock(res.statusCode ?? 502, res.statusMessage, flat));
    res.pipe(client);
    res.on('error', () => client.destroy());
  });

  up.on('error', (err: Error) => {
    clearTimeout(timer);
    if (answered) {
      client.destroy();
      return;
    }
    answered = true;
    client.off('close', onClientGone);
    if (client.destroyed) return;
    const code = circuit.closed ? 'AP_ERR_CIRCUIT_CLOSED' : upstreamErrorCode(err);
    const requestId = writeSocketError(client, code, req.headers.accept);
    ctx.metrics.countStatus(ERRORS[code].status);
    ctx.metrics.countUpstreamError(code);
    ctx.logger.warn({ requestId, circuitId: circuit.id, code, err }, 'upstream upgrade failed');
  });
  up.end();
}
