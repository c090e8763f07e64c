/**
 * How one circuit reaches its backends: the backend set (from `spec.backends`), a keep-alive pool
 * per backend, and the three ways in — `dispatch` (an HTTP request), `upgrade` (a WebSocket or
 * other HTTP/1.1 upgrade, on the same pool and settings, so a backend that does not answer fails
 * with the same phase code either way: see `errors.ts`) and `connect` (a TCP connection for a raw
 * relay or a tunnel).
 *
 * `update` swaps the backend set in place, never cutting live traffic: a request, an upgrade or a
 * TCP connection stays on the backend it started on until it ends; new ones go to the new set; a
 * removed backend's pool is closed gracefully (idle pooled connections close now, busy ones when
 * their request is done). Selection among backends is round-robin; load-aware balancing, health
 * and retries belong here too when endpoints need them.
 *
 * Pools are created on first use: an idle circuit holds no pool and no socket.
 */

import type { IncomingHttpHeaders } from 'node:http';
import { connect, type OnReadOpts, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type buildConnector, type Dispatcher, errors, Pool } from 'undici';
import type { BalancingPolicy } from '../../contracts/endpoint.ts';
import { CONNECT_TIMEOUT_MS, TCP_KEEPALIVE_MS } from '../connections/keepalive.ts';
import { dispatchRaw, rawEligible } from '../fastpath/raw-dispatch.ts';
import { RawPool } from '../fastpath/raw-pool.ts';
import { type Balanced, Balancer } from './balancer.ts';

export interface Backend {
  host: string;
  port: number;
  /** Traffic share (endpoint routes; 0 = staged). Absent: 1. */
  weight?: number;
}

export interface UpstreamSettings {
  /** How long a backend may take to send a response head (HTTP and upgrades). */
  headersTimeoutMs: number;
  /** How requests spread over the backends (endpoints); default `weighted`. */
  balancing?: BalancingPolicy;
  /** A removed backend's requests in flight may finish for this long, then its pool is destroyed. */
  drainGraceMs?: number;
  /**
   * `dispatchTo` sends requests whose body is in memory on the raw keep-alive pool
   * (fastpath/raw-dispatch.ts) instead of undici's (the worker's `fastPath` setting).
   */
  rawHttp?: boolean;
}

/**
 * The pools' connector. undici's own leaves its connect-timeout machinery on every socket it
 * opens (an `error` listener closing over the timer, a WeakRef and a cleared fast timer: ~0.45 KiB
 * of heap), which stays for the socket's whole life — and a WebSocket's upstream socket lives as
 * long as the WebSocket, so with 10k idle WebSockets that was 4.5 MiB. This one keeps its state in
 * a map while connecting and leaves nothing on the socket afterwards. Backends are plain TCP
 * (circuit specs carry host and port, never TLS), which is all it handles.
 */
interface Connecting {
  callback: buildConnector.Callback;
  timer: NodeJS.Timeout;
}
const connecting = new Map<Socket, Connecting>();

function settleConnect(socket: Socket, err: Error | null): void {
  const c = connecting.get(socket);
  if (!c) return;
  connecting.delete(socket);
  clearTimeout(c.timer);
  socket.off('connect', onBackendConnect);
  socket.off('error', onBackendConnectError);
  if (err) {
    socket.destroy();
    c.callback(err, null);
  } else c.callback(null, socket);
}

function onBackendConnect(this: Socket): void {
  settleConnect(this, null);
}

function onBackendConnectError(this: Socket, err: Error): void {
  settleConnect(this, err);
}

function onBackendConnectTimeout(socket: Socket): void {
  settleConnect(
    socket,
    new errors.ConnectTimeoutError(`Connect Timeout Error (timeout: ${CONNECT_TIMEOUT_MS}ms)`),
  );
}

const connectBackendForPool: buildConnector.connector = (opts, callback) => {
  const socket = connect({
    host: opts.hostname,
    port: Number(opts.port) || 80,
    noDelay: true,
    keepAlive: true,
    keepAliveInitialDelay: TCP_KEEPALIVE_MS,
    // As undici's connector: 64 KiB stream buffers for bodies (a Duplex option the types omit).
    ...({ highWaterMark: 64 * 1024 } as object),
  });
  connecting.set(socket, {
    callback,
    timer: setTimeout(onBackendConnectTimeout, CONNECT_TIMEOUT_MS, socket),
  });
  socket.once('connect', onBackendConnect);
  socket.once('error', onBackendConnectError);
  return socket;
};

function keyOf(b: Backend): string {
  return `${b.host}:${b.port}`;
}

function copyBackend(b: Backend & { route?: string }): Backend & { route?: string } {
  return {
    host: b.host,
    port: b.port,
    ...(b.weight !== undefined ? { weight: b.weight } : {}),
    ...(b.route !== undefined ? { route: b.route } : {}),
  };
}

export class BackendEntry implements Balanced {
  readonly key: string;
  private pool: Pool | null = null;
  /** The share the spec gives it (0 = staged). */
  baseWeight: number;
  /**
   * The share the balancer uses: `baseWeight`, unless an endpoint's runtime lowers it (an
   * unusable route: 0; slow start: a fraction).
   */
  weight: number;
  inflight = 0;
  score = 0;
  /** The engine's own load signals (endpoints with the `llm` policy), set before each pick. */
  engine: {
    waiting: number;
    running: number;
    kvUsage: number;
    at: number;
    msPerToken?: number | null;
  } | null = null;

  constructor(
    readonly backend: Backend & { route?: string },
    private readonly settings: UpstreamSettings,
  ) {
    this.key = keyOf(backend);
    this.baseWeight = backend.weight ?? 1;
    this.weight = this.baseWeight;
  }

  /** The endpoint route it stands for (its id), else its address. */
  get route(): string {
    return this.backend.route ?? this.key;
  }

  private rawPool: RawPool | null = null;

  /** Raw keep-alive connections for the HTTP/1.1 fast path, built on first use. */
  get raw(): RawPool {
    this.rawPool ??= new RawPool(this.backend.host, this.backend.port);
    return this.rawPool;
  }

  /** The backend's pool, built on first use. */
  get dispatcher(): Pool {
    if (this.pool === null) {
      const { host, port } = this.backend;
      const h = host.includes(':') ? `[${host}]` : host;
      this.pool = new Pool(`http://${h}:${port}`, {
        headersTimeout: this.settings.headersTimeoutMs,
        // No body timeout: streams (SSE, downloads, long polls) may stay quiet for a long time.
        bodyTimeout: 0,
        connect: connectBackendForPool,
      });
    }
    return this.pool;
  }

  /**
   * Removed from the set: idle connections close now, busy ones once their request is done — or,
   * with a drain grace, at the latest when it has passed (a stream may otherwise go on for hours).
   */
  retire(): void {
    this.rawPool?.close();
    const pool = this.pool;
    if (!pool) return;
    void pool.close().catch(() => {});
    const grace = this.settings.drainGraceMs;
    if (grace !== undefined && pool.stats.running > 0) {
      setTimeout(() => void pool.destroy().catch(() => {}), grace).unref();
    }
  }

  destroy(): void {
    this.rawPool?.close();
    void this.pool?.destroy().catch(() => {});
  }
}

/** What `dispatch` on a closed upstream fails with (the caller maps it to the circuit's state). */
export class UpstreamClosedError extends Error {
  override readonly name = 'UpstreamClosedError';
  readonly code = 'UND_ERR_DESTROYED';
}

/** What `dispatch` fails with when no backend may take a request (an endpoint with no ready route). */
export class NoBackendError extends Error {
  override readonly name = 'NoBackendError';
  readonly code = 'AP_ERR_NO_ROUTE';
  constructor() {
    super('no route of the endpoint can take a request (none resolved, or all staged)');
  }
}

/**
 * Counts a request in flight on its backend until it ends, whichever way (the least-in-flight
 * policy reads the counts). Only endpoint circuits pay for the wrapper.
 */
export class InflightHandler implements Dispatcher.DispatchHandler {
  private done = false;
  constructor(
    private readonly entry: BackendEntry,
    private readonly inner: Dispatcher.DispatchHandler,
  ) {
    entry.inflight++;
  }
  private end(): void {
    if (this.done) return;
    this.done = true;
    this.entry.inflight--;
  }
  onRequestStart(c: Dispatcher.DispatchController, ctx: unknown): void {
    this.inner.onRequestStart?.(c, ctx);
  }
  onRequestUpgrade(
    c: Dispatcher.DispatchController,
    status: number,
    headers: IncomingHttpHeaders,
    socket: Duplex,
  ): void {
    this.end();
    this.inner.onRequestUpgrade?.(c, status, headers, socket);
  }
  onResponseStart(
    c: Dispatcher.DispatchController,
    status: number,
    headers: IncomingHttpHeaders,
    message?: string,
  ): void {
    this.inner.onResponseStart?.(c, status, headers, message);
  }
  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.inner.onResponseData?.(c, chunk);
  }
  onResponseEnd(c: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    this.end();
    this.inner.onResponseEnd?.(c, trailers);
  }
  onResponseError(c: Dispatcher.DispatchController, err: Error): void {
    this.end();
    this.inner.onResponseError?.(c, err);
  }
}

export class Upstream {
  private entries: BackendEntry[];
  /** Told after every change of the backend set (an endpoint's runtime re-weighs and re-probes). */
  onChange: ((entries: readonly BackendEntry[]) => void) | null = null;
  private readonly balancer: Balancer<BackendEntry>;
  /** Endpoint circuits count requests in flight per backend (their policies may use it). */
  private readonly counted: boolean;
  private closed = false;

  constructor(
    backends: readonly Backend[],
    private readonly settings: UpstreamSettings,
  ) {
    this.entries = backends.map((b) => new BackendEntry(copyBackend(b), settings));
    this.balancer = new Balancer(settings.balancing ?? 'weighted');
    this.counted = settings.balancing !== undefined;
  }

  /** The endpoint's balancing policy changed in place. */
  setBalancing(policy: BalancingPolicy): void {
    this.balancer.policy = policy;
  }

  get backends(): Backend[] {
    return this.entries.map((e) => e.backend);
  }

  /** The backend entries now (endpoint runtimes pick among them themselves). */
  get routes(): readonly BackendEntry[] {
    return this.entries;
  }

  /**
   * Swaps the backend set in place (see the module comment): kept backends keep their pools and
   * connections, new ones start empty, removed ones are retired gracefully.
   */
  update(backends: readonly Backend[]): void {
    if (this.closed) return;
    const old = new Map(this.entries.map((e) => [e.key, e]));
    const next: BackendEntry[] = [];
    for (const b of backends) {
      const k = keyOf(b);
      const kept = old.get(k);
      if (kept) {
        old.delete(k);
        kept.baseWeight = b.weight ?? 1;
        kept.weight = kept.baseWeight;
      }
      if (!next.some((e) => e.key === k)) next.push(kept ?? new BackendEntry(copyBackend(b), this.settings));
    }
    this.entries = next;
    for (const e of old.values()) e.retire();
    this.onChange?.(next);
  }

  private pick(): BackendEntry | null {
    return this.balancer.pick(this.entries);
  }

  /** The backend the next fast-path request goes to (null: closed, or no backend may take it). */
  pickRaw(): BackendEntry | null {
    return this.closed ? null : this.pick();
  }

  /** One HTTP request; the handler gets every outcome (errors included, never a throw). */
  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void {
    if (this.closed) {
      handler.onResponseError?.(null as unknown as Dispatcher.DispatchController, new UpstreamClosedError());
      return;
    }
    const entry = this.pick();
    if (entry === null) {
      handler.onResponseError?.(null as unknown as Dispatcher.DispatchController, new NoBackendError());
      return;
    }
    const h = this.counted ? new InflightHandler(entry, handler) : handler;
    try {
      entry.dispatcher.dispatch(opts, h);
    } catch (err) {
      h.onResponseError?.(null as unknown as Dispatcher.DispatchController, err as Error);
    }
  }

  /**
   * One HTTP request on a backend an endpoint's runtime chose (counted in flight on it until it
   * ends); failures reach the handler as for `dispatch`. With `rawHttp`, a request whose body is
   * in memory goes on the raw pool (same handler contract, same error codes).
   */
  dispatchTo(
    entry: BackendEntry,
    opts: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
  ): void {
    if (this.closed) {
      handler.onResponseError?.(null as unknown as Dispatcher.DispatchController, new UpstreamClosedError());
      return;
    }
    const counted = new InflightHandler(entry, handler);
    if (this.settings.rawHttp && rawEligible(opts)) {
      dispatchRaw(entry, opts, counted, this.settings.headersTimeoutMs);
      return;
    }
    try {
      entry.dispatcher.dispatch(opts, counted);
    } catch (err) {
      counted.onResponseError(null as unknown as Dispatcher.DispatchController, err as Error);
    }
  }

  /**
   * An HTTP/1.1 upgrade (`protocol` as the client asked, e.g. `websocket`) on the same pool: a 101
   * reaches `handler.onRequestUpgrade` with the socket (which then belongs to the caller); any
   * other answer arrives as an ordinary response; failures as `onResponseError`, with the same
   * codes as a request's.
   */
  upgrade(opts: Dispatcher.DispatchOptions, protocol: string, handler: Dispatcher.DispatchHandler): void {
    this.dispatch({ ...opts, upgrade: protocol }, handler);
  }

  /**
   * A TCP connection to a backend (raw relays and tunnels): half-close passes through, no Nagle
   * delay, keepalive so that a vanished backend is found. The caller bounds the connect.
   */
  connect(onread?: OnReadOpts): Socket {
    const picked = this.pick();
    if (picked === null) throw new NoBackendError();
    const { host, port } = picked.backend;
    return connect({
      host,
      port,
      allowHalfOpen: true,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: TCP_KEEPALIVE_MS,
      ...(onread ? { onread } : {}),
    });
  }

  /** The circuit closed: every pool is destroyed (in-flight requests fail). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const e of this.entries) e.destroy();
  }
}
