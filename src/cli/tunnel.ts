/**
 * `appproxy tunnel`: a local TCP port whose every connection travels to a TCP circuit in tunnel
 * mode over its own authenticated WebSocket.
 *
 * Wire protocol (shared with the worker, `/_appproxy/tunnel`): one WebSocket per TCP connection,
 * opened with `Authorization: Bearer <tunnel token>` and subprotocol `appproxy-tunnel.v1`; binary
 * messages carry bytes; a text message `eof` says the sender has no more bytes (half-close); the
 * worker closes the WebSocket with the CloseReason as its close reason (1000 when the connection
 * ended normally, 4408 idle-timeout, 4410 circuit-closed, 4403 revoked, 4502 backend-*). Token,
 * mode and limit refusals come before the upgrade as HTTP errors with the API's error envelope.
 *
 * Each connection gets a fresh single-use token: a token is worth exactly one connection, so a
 * leaked one (logs, process listings) opens nothing after its connection started.
 */

import { createServer, type Server, type Socket } from 'node:net';
import WebSocket from 'ws';
import { ApiError, envelopeError } from '../client/errors.ts';
import type { TunnelToken } from '../contracts/records.ts';
import { formatDuration } from '../core/duration.ts';
import { CliError } from './errors.ts';

export const TUNNEL_SUBPROTOCOL = 'appproxy-tunnel.v1';
export const TUNNEL_PATH = '/_appproxy/tunnel';
/** Text message: the sender has no more bytes (the receiver ends its TCP side's write half). */
export const TUNNEL_EOF = 'eof';

/** Reasons for the worker's close codes, for a close frame that arrives without its reason text. */
const CODE_REASONS: Record<number, string> = {
  4403: 'revoked',
  4408: 'idle-timeout',
  4410: 'circuit-closed',
  4502: 'backend-closed',
};

/**
 * Upstream backpressure: the local client is paused once this much is queued towards the worker,
 * and resumed once the queue has drained below LOW_WATER (hysteresis avoids pause/resume churn).
 */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;
/** After both directions ended, how long to wait for the worker's close (it carries the reason). */
const CLOSE_GRACE_MS = 5000;
/** How long `close()` waits for the worker to acknowledge the closes before cutting the sockets. */
const STOP_GRACE_MS = 2000;
const HANDSHAKE_TIMEOUT_MS = 15_000;
/** Largest message accepted from the worker (it sends TCP chunks, far smaller). */
const MAX_PAYLOAD = 16 * 1024 * 1024;

export interface TunnelOptions {
  /** Local address and port to listen on (port 0 = an ephemeral port). */
  host: string;
  port: number;
  /** Mints the single-use token for one connection (`POST /v1/circuits/{id}/tunnel-token`). */
  mintToken: () => Promise<TunnelToken>;
  /** One human line per event (connection opened, closed, refused); the command sends them to stderr. */
  log: (line: string) => void;
  /**
   * Called (at most once) when the tunnel cannot go on: the circuit closed, or the manager or the
   * worker refused for a reason that a retry would not change (token refused, not a tunnel).
   */
  onFatal: (err: Error) => void;
  handshakeTimeoutMs?: number;
}

interface Conn {
  id: number;
  socket: Socket;
  /** `host:port` of the local client. */
  peer: string;
  ws: WebSocket | null;
  /** The WebSocket opened and the bytes flow. */
  opened: boolean;
  startedAt: number;
  /** Bytes from the local client to the service, and back. */
  sent: number;
  received: number;
  /** The local client sent FIN (we sent `eof`). */
  clientEnded: boolean;
  /** The worker sent `eof` (we ended the local socket's write half). */
  serviceEnded: boolean;
  /** We closed the WebSocket because the local client went away (or the tunnel stops). */
  closedByUs: boolean;
  /** The local client is paused for upstream backpressure. */
  upPaused: boolean;
  graceTimer: NodeJS.Timeout | null;
  done: boolean;
  /** Resolves once the connection's bookkeeping ended (see #finish). */
  finished: Promise<void>;
  markFinished: () => void;
}

/** Error statuses of the worker's upgrade refusal that no retry with a new token would change. */
function isFatalRefusal(err: ApiError): boolean {
  return err.status === 401 || err.status === 403 || err.status === 404 || err.status === 409;
}

/** Token minting failures that make every later connection fail too (auth, circuit gone, not a tunnel). */
function isFatalMintError(err: unknown): boolean {
  return err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 429;
}

export class Tunnel {
  readonly #opts: TunnelOptions;
  readonly #server: Server;
  readonly #conns = new Set<Conn>();
  #nextId = 1;
  #stopping = false;
  #fatal = false;

  constructor(opts: TunnelOptions) {
    this.#opts = opts;
    // allowHalfOpen: a client that finished sending (FIN) may still be receiving the answer.
    this.#server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) =>
      this.#accept(socket),
    );
  }

  /** Starts listening; resolves with the bound address. Rejects with a CliError when it cannot. */
  listen(): Promise<{ host: string; port: number }> {
    const { host, port } = this.#opts;
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        const why =
          err.code === 'EADDRINUSE'
            ? 'the address is in use (pick another --local-port)'
            : err.code === 'EACCES'
              ? 'permission denied (ports below 1024 need privileges)'
              : err.code === 'EADDRNOTAVAIL'
                ? 'no such local address (--bind)'
                : err.message;
        reject(new CliError(`cannot listen on ${hostPort(host, port)}: ${why}`));
      };
      this.#server.once('error', onError);
      this.#server.listen({ host, port }, () => {
        this.#server.off('error', onError);
        const addr = this.#server.address();
        if (addr === null || typeof addr === 'string') {
          reject(new CliError(`cannot listen on ${hostPort(host, port)}`));
          return;
        }
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  /** Live tunnelled connections (for tests and diagnostics). */
  get connections(): number {
    return this.#conns.size;
  }

  /** Stops listening and closes every connection (telling the worker); resolves when all are gone. */
  async close(): Promise<void> {
    this.#stopping = true;
    const listening = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    const conns = [...this.#conns];
    for (const c of conns) {
      c.closedByUs = true;
      if (c.ws && c.ws.readyState === WebSocket.OPEN) {
        c.ws.close(1000, 'client-closed');
      } else {
        c.ws?.terminate();
      }
      c.socket.destroy();
    }
    const allDone = Promise.all(conns.map((c) => c.finished));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      allDone,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_GRACE_MS))),
    ]);
    clearTimeout(timer);
    // A worker that did not answer the close in time: cut the WebSockets.
    for (const c of this.#conns) {
      c.ws?.terminate();
      this.#finish(c, 'client-closed');
    }
    await listening;
  }

  #accept(socket: Socket): void {
    if (this.#stopping) {
      socket.destroy();
      return;
    }
    const conn: Conn = {
      id: this.#nextId++,
      socket,
      peer: hostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0),
      ws: null,
      opened: false,
      startedAt: Date.now(),
      sent: 0,
      received: 0,
      clientEnded: false,
      serviceEnded: false,
      closedByUs: false,
      upPaused: false,
      graceTimer: null,
      done: false,
      finished: Promise.resolve(),
      markFinished: () => {},
    };
    conn.finished = new Promise<void>((resolve) => (conn.markFinished = resolve));
    this.#conns.add(conn);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    // Errors (ECONNRESET…) are followed by 'close', which does the bookkeeping.
    socket.on('error', () => {});
    socket.once('close', () => this.#onSocketClose(conn));
    void this.#open(conn);
  }

  async #open(conn: Conn): Promise<void> {
    let token: TunnelToken;
    try {
      token = await this.#opts.mintToken();
    } catch (err) {
      this.#refuse(conn, err, isFatalMintError(err));
      return;
    }
    if (conn.done || conn.socket.destroyed) {
      // The client left while we asked for the token; the token is simply never used.
      this.#finish(conn, 'client-closed');
      return;
    }
    const ws = new WebSocket(token.url, TUNNEL_SUBPROTOCOL, {
      headers: { authorization: `Bearer ${token.token}` },
      perMessageDeflate: false,
      handshakeTimeout: this.#opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
      maxPayload: MAX_PAYLOAD,
      followRedirects: false,
    });
    conn.ws = ws;
    let refused = false;
    let lastError: Error | null = null as Error | null;

    ws.on('unexpected-response', (req, res) => {
      refused = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', () => {});
      res.on('end', () => {
        const err = refusalError(res.statusCode ?? 0, res.statusMessage ?? '', Buffer.concat(chunks));
        // The request is still the WebSocket's own: terminate() aborts it and emits 'close'.
        ws.terminate();
        req.destroy();
        this.#refuse(conn, err, isFatalRefusal(err));
      });
    });
    ws.on('error', (err) => {
      lastError = err;
    });
    ws.once('open', () => this.#bridge(conn, ws));
    ws.once('close', (code, reasonBuf) => {
      if (refused) return;
      if (!conn.opened) {
        // Never bridged: the client left during the handshake, or the worker could not be reached.
        if (conn.closedByUs) this.#finish(conn, null);
        else
          this.#refuse(conn, lastError ?? new Error(`the worker closed the handshake (code ${code})`), false);
        return;
      }
      const text = reasonBuf.toString('utf8');
      let reason: string;
      if (conn.closedByUs) reason = 'client-closed';
      else if (text) reason = text;
      else if (CODE_REASONS[code]) reason = CODE_REASONS[code]!;
      else if (code === 1000 || code === 1005) reason = conn.serviceEnded ? 'backend-closed' : 'closed';
      else
        reason = `connection to the worker lost (code ${code}${lastError ? `: ${lastError.message}` : ''})`;
      // A normal end keeps what was already written to the client; anything else cuts it.
      if (code === 1000 || code === 1005) endThenDestroy(conn.socket);
      else conn.socket.destroy();
      this.#finish(conn, reason);
    });
  }

  /** Wires the local socket and the open WebSocket together, with backpressure both ways. */
  #bridge(conn: Conn, ws: WebSocket): void {
    const { socket } = conn;
    if (socket.destroyed) {
      conn.closedByUs = true;
      ws.close(1000, 'client-closed');
      return;
    }
    conn.opened = true;
    this.#opts.log(`connection ${conn.id} from ${conn.peer} open`);
    const afterSend = (err?: Error) => {
      if (err || !conn.upPaused) return;
      if (ws.bufferedAmount < LOW_WATER) {
        conn.upPaused = false;
        socket.resume();
      }
    };
    socket.on('data', (chunk: Buffer) => {
      conn.sent += chunk.length;
      ws.send(chunk, { binary: true }, afterSend);
      if (ws.bufferedAmount >= HIGH_WATER && !conn.upPaused) {
        conn.upPaused = true;
        socket.pause();
      }
    });
    socket.on('end', () => {
      conn.clientEnded = true;
      if (ws.readyState === WebSocket.OPEN) ws.send(TUNNEL_EOF);
      this.#maybeAwaitClose(conn, ws);
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        if (data.toString('utf8') === TUNNEL_EOF && !conn.serviceEnded) {
          conn.serviceEnded = true;
          socket.end();
          this.#maybeAwaitClose(conn, ws);
        }
        return;
      }
      conn.received += data.length;
      // Downstream backpressure: stop reading from the worker until the client has caught up.
      if (!socket.write(data)) ws.pause();
    });
    socket.on('drain', () => ws.resume());
    socket.resume();
  }

  /**
   * Both directions ended: the worker closes the WebSocket with the reason, so wait for that
   * (bounded) rather than closing first and reporting a reason of our own.
   */
  #maybeAwaitClose(conn: Conn, ws: WebSocket): void {
    if (!conn.clientEnded || !conn.serviceEnded || conn.graceTimer) return;
    conn.graceTimer = setTimeout(() => {
      if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'client-closed');
    }, CLOSE_GRACE_MS);
    conn.graceTimer.unref();
  }

  #onSocketClose(conn: Conn): void {
    const ws = conn.ws;
    if (ws === null) return; // still minting the token; #open finishes it
    if (ws.readyState === WebSocket.CONNECTING) {
      conn.closedByUs = true;
      ws.terminate();
      return;
    }
    if (ws.readyState !== WebSocket.OPEN) return;
    if (conn.clientEnded && conn.serviceEnded) return; // orderly: the worker's close is on its way
    // The client went away (closed or reset) before the exchange finished.
    conn.closedByUs = true;
    ws.close(1000, 'client-closed');
  }

  #refuse(conn: Conn, err: unknown, fatal: boolean): void {
    if (conn.done) return;
    const error = err instanceof Error ? err : new Error(String(err));
    const code = error instanceof ApiError && error.code ? ` [${error.code}]` : '';
    this.#opts.log(`connection ${conn.id} from ${conn.peer} refused: ${error.message}${code}`);
    conn.socket.destroy();
    this.#finish(conn, null);
    if (fatal && !this.#fatal && !this.#stopping) {
      this.#fatal = true;
      this.#opts.onFatal(error);
    }
  }

  /** Ends a connection's bookkeeping once; logs its close line when it had been open. */
  #finish(conn: Conn, reason: string | null): void {
    if (conn.done) return;
    conn.done = true;
    if (conn.graceTimer) clearTimeout(conn.graceTimer);
    this.#conns.delete(conn);
    if (reason !== null && conn.ws !== null) {
      this.#opts.log(
        `connection ${conn.id} from ${conn.peer} closed (${reason}): sent ${formatBytes(conn.sent)}, ` +
          `received ${formatBytes(conn.received)}, ${formatDuration(Date.now() - conn.startedAt)}`,
      );
    }
    conn.markFinished();
    if (reason === 'circuit-closed' && !this.#fatal && !this.#stopping) {
      this.#fatal = true;
      this.#opts.onFatal(
        new CliError('the circuit was closed (its session ended or it was closed); the tunnel stops'),
      );
    }
  }
}

/** Ends the write half (flushing what was written), then releases the socket once flushed. */
function endThenDestroy(socket: Socket): void {
  if (socket.destroyed) return;
  socket.end(() => socket.destroy());
}

/** The worker's refusal as an ApiError: its error envelope when it sent one, else the status line. */
function refusalError(status: number, statusText: string, body: Buffer): ApiError {
  const enveloped = envelopeError(status, body.toString('utf8'), null);
  if (enveloped) return enveloped;
  return new ApiError({
    code: null,
    status,
    message: `the worker refused the tunnel: HTTP ${status}${statusText ? ` ${statusText}` : ''}`,
    requestId: null,
  });
}

/** `host:port`, with IPv6 addresses in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}
