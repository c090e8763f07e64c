/**
 * One HTTP/1.1 exchange on a backend's raw keep-alive pool (raw-pool.ts), driven through undici's
 * handler contract (`Dispatcher.DispatchHandler` and its controller: pause, resume, abort) so that
 * its callers — an inference endpoint's attempts, with their picking, admission, retries, health
 * reports and usage taps — run on it unchanged. It takes requests whose body is already in memory
 * (what an endpoint request is once its body was read and inspected); `Upstream.dispatchTo` gives
 * it those when the fast path is on, and everything else to undici.
 *
 * Why not undici here: its client builds a request object, runs its WebAssembly parser with a
 * callback per header and queues through its own kernel of states for every exchange; the profile
 * put it at ~18 % of the worker's CPU under load. The response head is parsed by the fast path's
 * strict parser; the body is relayed by its framing (Content-Length counted, chunked decoded and
 * checked, close-delimited until EOF). Failures carry the codes `upstream/errors.ts` maps to phases
 * (errno codes for connect failures, `UND_ERR_HEADERS_TIMEOUT`, `UND_ERR_SOCKET`), as undici's do.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import { BodyReader, parseResponseHead } from './h1-parser.ts';
import type { RawPool } from './raw-pool.ts';

/** A backend as the raw client needs it (`BackendEntry` in upstream.ts). */
export interface RawTarget {
  readonly backend: { host: string; port: number };
  readonly raw: RawPool;
}

/** An upstream failure with the code undici would give it (see upstream/errors.ts). */
export class RawUpstreamError extends Error {
  override readonly name = 'RawUpstreamError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Methods a stale pooled connection may replay (no body, idempotent). */
const REPLAYABLE = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE']);
/** Methods undici sends `content-length: 0` for when there is no body. */
const EXPECTS_BODY = new Set(['POST', 'PUT', 'PATCH']);
/** What may not appear in a header name or value we write (a request head must stay one head). */
const UNSAFE = /[\r\n\0]/;

/** True when the raw client can take `opts` (a body in memory, no upgrade, no CONNECT). */
export function rawEligible(opts: Dispatcher.DispatchOptions): boolean {
  const b = opts.body;
  return (
    (b === null || b === undefined || typeof b === 'string' || Buffer.isBuffer(b)) &&
    !opts.upgrade &&
    opts.method !== 'CONNECT' &&
    (opts.headers === undefined || opts.headers === null || typeof opts.headers === 'object')
  );
}

/** The request head as one string; throws on a header that would break it. */
function requestHead(entry: RawTarget, opts: Dispatcher.DispatchOptions, body: Buffer | null): string {
  const method = opts.method;
  let out = `${method} ${opts.path} HTTP/1.1\r\n`;
  let host = false;
  const add = (name: string, value: unknown) => {
    const v = String(value);
    if (UNSAFE.test(name) || UNSAFE.test(v))
      throw new RawUpstreamError(`invalid header ${name}`, 'UND_ERR_INVALID_ARG');
    const lower = name.toLowerCase();
    // Framing is ours: the body is in memory and goes with its length.
    if (lower === 'content-length' || lower === 'transfer-encoding' || lower === 'connection') return;
    if (lower === 'host') host = true;
    out += `${name}: ${v}\r\n`;
  };
  const h = opts.headers as Record<string, unknown> | unknown[] | null | undefined;
  if (Array.isArray(h)) {
    for (let k = 0; k + 1 < h.length; k += 2) add(String(h[k]), h[k + 1]);
  } else if (h) {
    for (const name in h) {
      const v = h[name];
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const x of v) add(name, x);
      else add(name, v);
    }
  }
  if (!host) {
    const { host: addr, port } = entry.backend;
    out += `host: ${addr.includes(':') ? `[${addr}]` : addr}:${port}\r\n`;
  }
  if (body !== null) out += `content-length: ${body.length}\r\n`;
  else if (EXPECTS_BODY.has(method)) out += 'content-length: 0\r\n';
  return `${out}\r\n`;
}

/** The parsed head's fields as undici gives them: lower-case names, repeated ones as arrays. */
function headerObject(list: string[]): IncomingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (let k = 0; k < list.length; k += 2) {
    const name = list[k]!;
    const v = list[k + 1]!;
    const had = out[name];
    if (had === undefined) out[name] = v;
    else if (Array.isArray(had)) had.push(v);
    else out[name] = [had, v];
  }
  return out;
}

/** Sends one request on `entry`'s raw pool; every outcome reaches `handler`, never a throw. */
export function dispatchRaw(
  entry: RawTarget,
  opts: Dispatcher.DispatchOptions,
  handler: Dispatcher.DispatchHandler,
  headersTimeoutMs: number,
): void {
  new RawExchange(entry, opts, handler, headersTimeoutMs).start();
}

class RawExchange implements Dispatcher.DispatchController {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  private socket: Socket | null = null;
  private reused = false;
  private connected = false;
  private replayed = false;
  private head = '';
  private readonly body: Buffer | null;
  private upHead: Buffer | null = null;
  private headSeen = false;
  private anyBytes = false;
  private reader: BodyReader | null = null;
  /** The buffer whose body bytes are being handed over (read by `run`). */
  private feeding: Buffer | null = null;
  private close = false;
  private over = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly entry: RawTarget,
    private readonly opts: Dispatcher.DispatchOptions,
    private readonly handler: Dispatcher.DispatchHandler,
    private readonly headersTimeoutMs: number,
  ) {
    const b = opts.body as Buffer | string | null | undefined;
    this.body = b === null || b === undefined ? null : typeof b === 'string' ? Buffer.from(b) : b;
  }

  start(): void {
    try {
      this.head = requestHead(this.entry, this.opts, this.body);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    this.handler.onRequestStart?.(this, {});
    if (this.over) return;
    this.connect();
  }

  // ------------------------------------------------------------------ the controller

  abort(reason: Error): void {
    if (this.over) return;
    this.aborted = true;
    this.reason = reason;
    this.fail(reason);
  }

  pause(): void {
    this.paused = true;
    this.socket?.pause();
  }

  resume(): void {
    this.paused = false;
    this.socket?.resume();
  }

  // ------------------------------------------------------------------ the exchange

  private connect(): void {
    const { socket, reused } = this.entry.raw.acquire();
    this.socket = socket;
    this.reused = reused;
    this.connected = reused;
    if (!reused) socket.once('connect', this.onConnect);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    if (this.paused) socket.pause();
    socket.cork();
    socket.write(this.head);
    if (this.body !== null && this.body.length > 0) socket.write(this.body);
    socket.uncork();
    // The headers timeout counts from the connection (until then the pool's connect timeout).
    if (reused) this.armTimer();
  }

  private armTimer(): void {
    this.clearTimer();
    this.timer = setTimeout(this.onHeadTimeout, this.headersTimeoutMs);
  }

  private detach(): Socket | null {
    const s = this.socket;
    if (!s) return null;
    s.off('connect', this.onConnect);
    s.off('data', this.onData);
    s.off('end', this.onEnd);
    s.off('error', this.onError);
    s.off('close', this.onClose);
    this.socket = null;
    return s;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private readonly onConnect = (): void => {
    this.connected = true;
    this.armTimer();
  };

  private readonly onHeadTimeout = (): void => {
    this.timer = null;
    if (this.headSeen || this.over) return;
    this.fail(new RawUpstreamError('Headers Timeout Error', 'UND_ERR_HEADERS_TIMEOUT'));
  };

  private readonly onData = (chunk: Buffer): void => {
    this.anyBytes = true;
    if (this.headSeen) {
      this.bodyBytes(chunk, 0);
      return;
    }
    const buf = this.upHead ? Buffer.concat([this.upHead, chunk]) : chunk;
    let at = 0;
    for (;;) {
      const parsed = parseResponseHead(buf, at, buf.length, this.opts.method);
      if (parsed.state === 'incomplete') {
        this.upHead = at === 0 ? buf : buf.subarray(at);
        return;
      }
      if (parsed.state === 'invalid') {
        this.fail(new RawUpstreamError(`bad response head: ${parsed.reason}`, 'UND_ERR_SOCKET'));
        return;
      }
      const h = parsed.head;
      if (h.status === 101) {
        this.fail(new RawUpstreamError('unexpected upgrade', 'UND_ERR_SOCKET'));
        return;
      }
      if (h.status < 200) {
        at = h.headEnd;
        continue;
      }
      this.upHead = null;
      this.headSeen = true;
      this.clearTimer();
      this.reader = new BodyReader(h.body);
      this.close = h.close || h.body.kind === 'close';
      this.handler.onResponseStart?.(this, h.status, headerObject(h.headers), h.reason);
      if (this.over) return;
      if (this.reader.done) {
        if (h.headEnd < buf.length) this.close = true;
        this.complete();
        return;
      }
      if (h.headEnd < buf.length) this.bodyBytes(buf, h.headEnd);
      return;
    }
  };

  private bodyBytes(buf: Buffer, from: number): void {
    const r = this.reader!;
    this.feeding = buf;
    const stop = r.feed(buf, from, buf.length, this.run);
    this.feeding = null;
    if (this.over) return;
    if (stop < 0) {
      this.fail(new RawUpstreamError(r.error ?? 'bad chunked body', 'UND_ERR_SOCKET'));
      return;
    }
    if (r.done) {
      // Bytes past the body's end: the backend cannot be trusted with another request.
      if (stop < buf.length) this.close = true;
      this.complete();
    }
  }

  private readonly run = (a: number, b: number): void => {
    const buf = this.feeding!;
    if (!this.over)
      this.handler.onResponseData?.(this, a === 0 && b === buf.length ? buf : buf.subarray(a, b));
  };

  private readonly onEnd = (): void => {
    if (this.headSeen && this.reader?.framing.kind === 'close' && !this.over) {
      this.complete();
      return;
    }
    this.onClose();
  };

  private readonly onError = (): void => {
    this.socket?.destroy();
  };

  private readonly onClose = (): void => {
    if (this.over) return;
    const s = this.detach();
    const errored = (s as (Socket & { errored?: NodeJS.ErrnoException | null }) | null)?.errored;
    s?.destroy();
    // A pooled connection the backend had just closed: replay once on a fresh one when safe.
    if (
      this.reused &&
      !this.anyBytes &&
      !this.replayed &&
      this.body === null &&
      REPLAYABLE.has(this.opts.method)
    ) {
      this.replayed = true;
      this.clearTimer();
      this.connect();
      return;
    }
    if (!this.connected && errored?.code) {
      this.fail(new RawUpstreamError(errored.message, errored.code));
      return;
    }
    this.fail(new RawUpstreamError('other side closed', 'UND_ERR_SOCKET'));
  };

  /** Both messages complete: the connection goes back to the pool (or closes), the handler ends. */
  private complete(): void {
    this.over = true;
    this.clearTimer();
    const s = this.detach();
    if (s) {
      if (this.paused) s.resume();
      if (this.close) s.destroy();
      else this.entry.raw.release(s);
    }
    this.handler.onResponseEnd?.(this, {});
  }

  private fail(err: Error): void {
    if (this.over) return;
    this.over = true;
    this.clearTimer();
    this.detach()?.destroy();
    this.handler.onResponseError?.(this, err);
  }
}
