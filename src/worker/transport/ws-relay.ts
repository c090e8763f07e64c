/**
 * A proxied WebSocket once the backend answered 101: chunks are relayed unchanged (no copies, no
 * reframing), but each direction's frame boundaries are tracked (`ws-frames.ts`) so that the
 * worker can:
 * - close a WebSocket that moved no data frame (opcodes 0–2, either way) for the circuit's
 *   `idleTimeoutMs` (reason `idle-timeout`): close frame 1001 to both ends, then both sockets go;
 * - tell a dead client from a quiet one: after one ping interval without a byte from the client
 *   it writes a ping (between two frames of the backend's stream); no byte from the client within
 *   one more ping interval closes it (reason `peer-unresponsive`), unless the relay itself stopped
 *   reading the client (the backend lags) or the kernel keeps taking output for the client (a slow
 *   reader whose pong is queued behind that output);
 * - keep control frames (pings, pongs, closes, its own or relayed) out of the circuit's activity
 *   (`Circuit.discount`), so that keepalives never hold a circuit open;
 * - end it on request (`terminate`: circuit closed, revoked — the registry finds it by the grant of
 *   the app cookie that authorized it) with close frames where a frame may start, and write one
 *   access record when it ends.
 * The client's pong is forwarded to the backend: an unsolicited pong is legal (RFC 6455 §5.5.3)
 * and ignored by servers, while dropping it would mean cutting it out of a chunk.
 *
 * Clocks: the relay owns no timer. The worker's keepalive sweeper visits it once per tick (a
 * quarter of its ping interval, as a power of two from 32 ms to ~1 s), so a relayed chunk costs a
 * frame-header walk and no clock read. Per-chunk handlers are module-level functions that find
 * their relay through a symbol on the socket: an idle WebSocket costs little more than its sockets.
 */
import type { Socket } from 'node:net';
import type { Credential } from '../../contracts/auth.ts';
import type { CloseReason } from '../../contracts/records.ts';
import { CLOSE_GRACE_MS, Connection } from '../connections/connection.ts';
import type { Keepalive, Swept } from '../connections/keepalive.ts';
import type { ConnectionRegistry } from '../connections/registry.ts';
import type { Circuit, TrackedSocket } from '../routing/circuit.ts';
import { closeFrames, FrameTracker, PING_FRAME } from './ws-frames.ts';

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

/** The sweeper tick for a ping interval: a quarter of it, a power of two from 32 ms to 1024 ms. */
export function tickFor(pingIntervalMs: number): number {
  let tick = 32;
  while (tick < 1024 && tick * 2 * 4 <= pingIntervalMs) tick *= 2;
  return tick;
}

const kWs = Symbol('appproxy.ws');
type WsSocket = Socket & { [kWs]?: WsRelay };

/** Output the kernel took from `s` (written minus still queued in the socket). */
function flushed(s: Socket): number {
  return s.bytesWritten - s.writableLength;
}

export class WsRelay extends Connection implements Swept {
  readonly kind = 'websocket' as const;
  readonly c2b = new FrameTracker();
  readonly b2c = new FrameTracker();
  /** The worker decided to close: no more relaying; both sockets go by `closeDeadline`. */
  closing = false;
  closeDeadline = 0;
  private idleTimeoutMs: number;
  private pingIntervalMs: number;
  private tickMs: number;
  /** Clocks, as of the sweeps that saw the counts move. */
  private seenClientBytes = 0;
  private lastClientAt: number;
  private seenDataBytes = 0;
  private lastDataAt: number;
  /** A ping waits for the end of the frame the backend is sending. */
  pingDue = false;
  /**
   * When the outstanding ping was written (0 = none), the client's byte count then, and how much
   * of the client socket's output the kernel had taken then.
   */
  private pingSentAt = 0;
  private pingMark = 0;
  private pingFlushed = 0;
  private done = false;

  constructor(
    registry: ConnectionRegistry,
    private readonly keepalive: Keepalive,
    circuit: Circuit,
    readonly clientSocket: WsSocket,
    readonly upstream: WsSocket,
    client: string,
    /** The app cookie that authorized the upgrade: its grant and issue time. */
    credential: Credential,
  ) {
    super(registry, circuit, client, circuit.ownerId, 'cookie', credential.grant, credential.issuedAt);
    this.idleTimeoutMs = circuit.idleTimeoutMs;
    this.pingIntervalMs = pingIntervalFor(this.idleTimeoutMs);
    this.tickMs = tickFor(this.pingIntervalMs);
    this.lastClientAt = this.startedAt;
    this.lastDataAt = this.startedAt;
  }

  get clientBytes(): number {
    return this.c2b.dataBytes + this.c2b.controlBytes;
  }

  /**
   * Starts relaying. Bytes that came with the handshakes (`head` from the client, `upHead` from
   * the backend) are frames already: they go through the trackers too.
   */
  start(head: Buffer, upHead: Buffer): void {
    const { clientSocket: client, upstream, circuit } = this;
    client[kWs] = this;
    upstream[kWs] = this;
    this.registry.add(this);
    if (upHead.length > 0) {
      this.b2c.feed(upHead, 0, upHead.length, false);
      client.write(upHead);
      if (this.b2c.controlBytes > 0) circuit.discount(client as TrackedSocket, 0, this.b2c.controlBytes);
    }
    if (head.length > 0) {
      this.c2b.feed(head, 0, head.length, false);
      upstream.write(head);
      if (this.c2b.controlBytes > 0) circuit.discount(client as TrackedSocket, this.c2b.controlBytes, 0);
    }
    client.on('data', wsClientData);
    upstream.on('data', wsUpstreamData);
    for (const s of [client, upstream]) {
      s.on('drain', wsDrain);
      s.on('error', wsError);
      s.on('close', wsClose);
      s.on('end', wsEnd);
    }
    this.keepalive.add(this, this.tickMs);
  }

  /** The circuit's idle timeout changed in place: pings and the sweeper tick follow it. */
  override reconfigure(): void {
    const idle = this.circuit.idleTimeoutMs;
    if (idle === this.idleTimeoutMs) return;
    this.idleTimeoutMs = idle;
    this.pingIntervalMs = pingIntervalFor(idle);
    const tick = tickFor(this.pingIntervalMs);
    if (tick !== this.tickMs && !this.done) {
      this.keepalive.delete(this, this.tickMs);
      this.tickMs = tick;
      this.keepalive.add(this, tick);
    }
  }

  terminate(reason: CloseReason): void {
    if (this.closing || this.done) {
      this.reason ??= reason;
      return;
    }
    this.shut(reason);
  }

  sendPing(now: number): void {
    this.pingDue = false;
    this.pingSentAt = now;
    this.pingMark = this.clientBytes;
    this.clientSocket.write(PING_FRAME);
    this.pingFlushed = flushed(this.clientSocket);
    this.circuit.discount(this.clientSocket as TrackedSocket, 0, PING_FRAME.length);
  }

  /** The worker ends the WebSocket: close frames where a frame may start, then both sockets go. */
  private shut(reason: CloseReason): void {
    const { clientSocket: client, upstream, circuit } = this;
    this.reason ??= reason;
    this.closing = true;
    this.closeDeadline = Date.now() + CLOSE_GRACE_MS;
    const frames = closeFrames(reason);
    // Mid-frame, a close frame would corrupt the stream: then the socket is just ended.
    if (this.c2b.atBoundary && !upstream.writableEnded) upstream.write(frames.toBackend);
    upstream.end();
    upstream.resume();
    if (reason === 'peer-unresponsive') {
      client.destroy(); // nothing reads it: waiting for a close handshake would only hold memory
      return;
    }
    if (this.b2c.atBoundary && !client.writableEnded) {
      client.write(frames.toClient);
      circuit.discount(client as TrackedSocket, 0, frames.toClient.length);
    }
    // A closing circuit destroys its client sockets at once: this one leaves it so that the close
    // frame gets out (the sweeper destroys it at the deadline).
    if (circuit.closed) circuit.release(client as TrackedSocket);
    client.end();
    client.resume(); // reads (and drops) the client's close frame, then its FIN
  }

  destroySockets(): void {
    this.clientSocket.destroy();
    this.upstream.destroy();
  }

  destroy(): void {
    this.reason ??= 'circuit-closed';
    this.destroySockets();
  }

  /** Whoever ends or fails first closed it (unless a close frame or the worker said so before). */
  noteCloser(s: WsSocket): void {
    if (this.reason === null) {
      this.reason = this.circuit.closed
        ? 'circuit-closed'
        : s === this.clientSocket
          ? 'client-closed'
          : 'backend-closed';
    }
  }

  closed(): void {
    this.destroySockets();
    if (this.done) return;
    this.done = true;
    this.keepalive.delete(this, this.tickMs);
    this.finish(this.c2b.dataBytes, this.b2c.dataBytes);
  }

  /**
   * One sweeper visit: data moved → idle clock reset; any client byte → alive; then idle timeout,
   * pong timeout or a due ping.
   */
  sweep(now: number): void {
    if (this.closing) {
      if (now >= this.closeDeadline) this.destroySockets();
      return;
    }
    const client = this.clientSocket;
    const clientBytes = this.clientBytes;
    if (client.isPaused()) {
      // The relay stopped reading the client because the backend does not keep up: its silence
      // (or a pong stuck behind its upload) says nothing about the client.
      this.lastClientAt = now;
      this.pingSentAt = 0;
    } else if (clientBytes !== this.seenClientBytes) {
      this.seenClientBytes = clientBytes;
      this.lastClientAt = now;
    }
    const data = this.c2b.dataBytes + this.b2c.dataBytes;
    if (data !== this.seenDataBytes) {
      this.seenDataBytes = data;
      this.lastDataAt = now;
    }
    if (this.idleTimeoutMs > 0 && now - this.lastDataAt >= this.idleTimeoutMs) {
      this.shut('idle-timeout');
      return;
    }
    if (this.pingSentAt !== 0) {
      if (clientBytes !== this.pingMark) this.pingSentAt = 0;
      else if (now - this.pingSentAt >= this.pingIntervalMs) {
        // A client that is still taking the backend's output (the kernel keeps accepting it) is
        // alive but slow to reach the ping behind that output: give it another interval.
        const out = flushed(client);
        if (out > this.pingFlushed) {
          this.pingSentAt = now;
          this.pingFlushed = out;
        } else {
          this.shut('peer-unresponsive');
          return;
        }
      }
    }
    // A client whose output the backend half-closed can take no ping; the idle timeout still applies.
    if (
      this.pingSentAt === 0 &&
      !this.pingDue &&
      now - this.lastClientAt >= this.pingIntervalMs &&
      !client.writableEnded
    ) {
      if (this.b2c.atBoundary) this.sendPing(now);
      else this.pingDue = true;
    }
  }
}

// ---------------------------------------------------------------- hot path (module-level handlers)

/** Relays backend → client; a due ping goes in at the first frame boundary. */
function wsUpstreamData(this: WsSocket, chunk: Buffer): void {
  const c = this[kWs]!;
  if (c.closing) return;
  const t = c.b2c;
  const client = c.clientSocket;
  const ctl = t.controlBytes;
  let ok: boolean;
  if (!c.pingDue) {
    t.feed(chunk, 0, chunk.length, false);
    ok = client.write(chunk);
  } else {
    const at = t.feed(chunk, 0, chunk.length, true);
    if (!t.atBoundary)
      ok = client.write(chunk); // the frame goes on past this chunk
    else {
      if (at > 0) client.write(at === chunk.length ? chunk : chunk.subarray(0, at));
      c.sendPing(Date.now());
      if (at < chunk.length) {
        t.feed(chunk, at, chunk.length, false);
        ok = client.write(chunk.subarray(at));
      } else ok = !client.writableNeedDrain;
    }
  }
  if (t.controlBytes !== ctl) c.circuit.discount(client as TrackedSocket, 0, t.controlBytes - ctl);
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
  if (t.controlBytes !== ctl) c.circuit.discount(this as TrackedSocket, t.controlBytes - ctl, 0);
  if (c.reason === null && t.closeSeen) c.reason = 'client-closed';
  if (!ok) this.pause();
}

function otherEnd(c: WsRelay, s: WsSocket): WsSocket {
  return s === c.clientSocket ? c.upstream : c.clientSocket;
}

function wsDrain(this: WsSocket): void {
  const c = this[kWs]!;
  otherEnd(c, this).resume();
}

function wsEnd(this: WsSocket): void {
  const c = this[kWs]!;
  c.noteCloser(this);
  if (c.closing) this.destroy();
  else otherEnd(c, this).end(); // half-close passes through
}

function wsError(this: WsSocket): void {
  const c = this[kWs]!;
  c.noteCloser(this);
  c.destroySockets();
}

function wsClose(this: WsSocket): void {
  const c = this[kWs]!;
  c.noteCloser(this);
  c.closed();
}
