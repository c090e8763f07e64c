/**
 * Keep-alive TCP connections to one backend for the HTTP/1.1 fast path: a connection is taken for
 * one request and its response, and comes back only when both messages were complete (the caller
 * decides). Idle connections are dropped after `IDLE_MS`, below the 5 s keep-alive most servers
 * use, so a connection is rarely taken just as the backend closes it (and when it is, the fast
 * path replays an idempotent request once on a fresh one).
 */
import { connect, type Socket } from 'node:net';
import { CONNECT_TIMEOUT_MS, TCP_KEEPALIVE_MS } from '../connections/keepalive.ts';

const IDLE_MS = 4000;
const MAX_IDLE = 64;

const kIdleTimer = Symbol('appproxy.rawIdle');
type PooledSocket = Socket & { [kIdleTimer]?: NodeJS.Timeout | undefined; __pool?: RawPool };

function onIdleClose(this: PooledSocket): void {
  this.__pool?.forget(this);
}

function onIdleError(this: PooledSocket): void {
  this.destroy();
}

function onIdleData(this: PooledSocket): void {
  // A backend must not speak unasked: the connection cannot be trusted for a next request.
  this.destroy();
}

function expire(socket: PooledSocket): void {
  socket.destroy();
}

/** A backend that does not accept within CONNECT_TIMEOUT_MS fails as undici's connector does. */
function onConnectTimeout(this: Socket): void {
  const err = new Error(`Connect Timeout Error (timeout: ${CONNECT_TIMEOUT_MS}ms)`);
  this.destroy(Object.assign(err, { code: 'UND_ERR_CONNECT_TIMEOUT' }));
}

function onConnected(this: Socket): void {
  this.setTimeout(0);
  this.off('timeout', onConnectTimeout);
}

export class RawPool {
  private readonly idle: PooledSocket[] = [];
  private closed = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  /** An idle connection (`reused`), else a new one (connecting: write to it at once, it queues). */
  acquire(): { socket: Socket; reused: boolean } {
    while (this.idle.length > 0) {
      const s = this.idle.pop()!;
      this.unpark(s);
      if (!s.destroyed && s.writable) return { socket: s, reused: true };
      s.destroy();
    }
    const socket = connect({
      host: this.host,
      port: this.port,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: TCP_KEEPALIVE_MS,
    });
    socket.setTimeout(CONNECT_TIMEOUT_MS);
    socket.once('timeout', onConnectTimeout);
    socket.once('connect', onConnected);
    return { socket, reused: false };
  }

  /** Gives a connection back after a complete exchange; anything else is destroyed. */
  release(socket: Socket): void {
    const s = socket as PooledSocket;
    if (this.closed || this.idle.length >= MAX_IDLE || s.destroyed || !s.writable || s.readableEnded) {
      s.destroy();
      return;
    }
    s.__pool = this;
    s.on('close', onIdleClose);
    s.on('error', onIdleError);
    s.on('data', onIdleData);
    s[kIdleTimer] = setTimeout(expire, IDLE_MS, s);
    s[kIdleTimer].unref();
    this.idle.push(s);
  }

  /** An idle connection closed by the backend. */
  forget(socket: Socket): void {
    const i = this.idle.indexOf(socket as PooledSocket);
    if (i >= 0) this.idle.splice(i, 1);
    this.unpark(socket as PooledSocket);
  }

  private unpark(s: PooledSocket): void {
    if (s[kIdleTimer]) clearTimeout(s[kIdleTimer]);
    s[kIdleTimer] = undefined;
    s.off('close', onIdleClose);
    s.off('error', onIdleError);
    s.off('data', onIdleData);
  }

  /** Closes the idle connections; busy ones are destroyed by their requests' end. */
  close(): void {
    this.closed = true;
    for (const s of this.idle.splice(0)) {
      this.unpark(s);
      s.destroy();
    }
  }
}
