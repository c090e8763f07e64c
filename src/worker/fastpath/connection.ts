/**
 * The HTTP/1.1 fast path for one client connection (port or wildcard mode): the client's bytes
 * are read as they come, each request head is parsed strictly (h1-parser.ts), the app cookie is
 * checked as on the node:http path, the head is rewritten into one buffer (the same forwarding
 * headers, hop-by-hop headers and app cookies removed) and written with its body to a pooled
 * keep-alive connection of the backend (raw-pool.ts); the response head is parsed strictly and
 * rewritten, and the body relayed by its framing (Content-Length counted; chunked decoded,
 * checked and re-chunked; close-delimited re-chunked), with backpressure both ways. No
 * IncomingMessage, ServerResponse or undici request is built.
 *
 * What it does not serve goes to node:http untouched, on the same connection, from the first byte
 * of that message (the listener's server takes the socket with the bytes put back): heads outside
 * the subset (HTTP/1.0, upgrades, `Expect`, other methods, `Transfer-Encoding` other than
 * `chunked`), requests node:http answers itself (reserved paths, refused cookies, unknown,
 * closed or endpoint circuits). Attack shapes (CL+TE, duplicate Content-Length, duplicate Host, bare CR/LF,
 * bad bytes, bad chunk sizes) get 400 and the connection is closed. A pipelined request waits
 * (the socket is paused) until the response before it is complete; a backend connection returns
 * to the pool only when both messages of an exchange were complete.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ErrorCode } from '../../contracts/errors.ts';
import { verifyRequest } from '../access/app-cookie.ts';
import type { WorkerContext } from '../context.ts';
import { writeSocketError } from '../observe/error-pages.ts';
import type { Circuit, TrackedSocket } from '../routing/circuit.ts';
import { isHopByHop } from '../transport/headers.ts';
import { failedPhase, PHASE_CODES } from '../upstream/errors.ts';
import type { BackendEntry } from '../upstream/upstream.ts';
import {
  type BodyFraming,
  BodyReader,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
} from './h1-parser.ts';

/** The circuit a request's Host names (port mode: the port's, whatever the Host); null: none. */
export type CircuitOf = (host: string | undefined) => Circuit | null;

export interface FastPathOptions {
  ctx: WorkerContext;
  /** How long a backend may take to send a response head. */
  headersTimeoutMs: number;
  /** The node:http server of the listener: it takes the connections the fast path hands over. */
  handOff(socket: Socket): void;
}

/** How long a client may take to send a request head, and idle keep-alive (as node:http's). */
const HEADERS_TIMEOUT_MS = 60_000;
const KEEP_ALIVE_MS = 5_000;
/** Buffered pipelined bytes beyond which the client is not read (the socket is paused anyway). */
const MAX_PENDING = 64 * 1024;

/** Request headers node:http keeps only once (the first wins), as IncomingMessage does. */
const SINGLE = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/** Methods a stale pooled connection may replay (no body, idempotent). */
const REPLAYABLE = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE']);

let dateCache = '';
let dateAt = 0;
function httpDate(): string {
  const now = Date.now();
  if (now - dateAt >= 1000) {
    dateAt = now - (now % 1000);
    dateCache = new Date(dateAt).toUTCString();
  }
  return dateCache;
}

/** The request's headers as node:http would give them (lower-case names, duplicates merged). */
function headerRecord(h: RequestHead): Record<string, string> {
  const out: Record<string, string> = {};
  const list = h.headers;
  for (let k = 0; k < list.length; k += 2) {
    const name = list[k]!;
    const v = list[k + 1]!;
    const had = out[name];
    if (had === undefined) out[name] = v;
    else if (name === 'cookie') out[name] = `${had}; ${v}`;
    else if (!SINGLE.has(name)) out[name] = `${had}, ${v}`;
  }
  return out;
}

function connectionNamed(list: string | undefined): Set<string> | null {
  if (!list) return null;
  const out = new Set<string>();
  for (const t of list.split(',')) {
    const n = t.trim();
    if (n) out.add(n);
  }
  return out;
}

export class FastConnection {
  /** Bytes of the message being read (from its first byte), or of pipelined ones waiting. */
  private pending: Buffer | null = null;
  private busy = false;
  private closed = false;
  private handedOff = false;
  private circuit: Circuit | null = null;
  private req: RequestHead | null = null;
  private reqBody: BodyFraming = { kind: 'none' };
  private reqReader: BodyReader | null = null;
  private reqDone = false;
  private upstream: Socket | null = null;
  private entry: BackendEntry | null = null;
  private reused = false;
  private upHead: Buffer | null = null;
  private resStarted = false;
  private resHeadSent = false;
  private resReader: BodyReader | null = null;
  /** The buffer whose body bytes are being relayed (read by `upRun`, `upChunk`, `downRun`, `downChunk`). */
  private feeding: Buffer | null = null;
  private resClose = false;
  private resDone = false;
  private replayed = false;
  private headTimer: NodeJS.Timeout | null = null;
  /** The rewritten request head (kept for one replay on a stale pooled connection). */
  private upstreamHead = '';
  /** Body bytes checked before the backend connection is taken (written right after the head). */
  private early: (Buffer | string)[] | null = null;
  /** The backend connection was established (a failure after it is a reset, not a connect error). */
  private upConnected = false;
  private clientEnded = false;

  constructor(
    private readonly socket: Socket,
    private readonly circuitOf: CircuitOf,
    private readonly o: FastPathOptions,
  ) {
    socket.on('data', this.onClientData);
    socket.on('end', this.onClientEnd);
    socket.on('error', this.onClientError);
    socket.on('close', this.onClientClose);
    socket.on('timeout', this.onClientTimeout);
    socket.on('drain', this.onClientDrain);
    socket.setTimeout(HEADERS_TIMEOUT_MS);
  }

  // ------------------------------------------------------------------ client side

  private readonly onClientData = (chunk: Buffer): void => {
    // Answered and closing (an error page, Connection: close): nothing more is read.
    if (this.closed) return;
    if (this.busy) {
      if (!this.reqDone) {
        this.requestBody(chunk, 0);
        return;
      }
      // The next request arrived before this response was complete: it waits.
      this.pending = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
      this.socket.pause();
      if (this.pending.length > MAX_PENDING) this.fail('AP_ERR_BAD_REQUEST', 'too much pipelined data');
      return;
    }
    this.pending = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.nextRequest();
  };

  private readonly onClientEnd = (): void => {
    // A client that half-closes after its request still gets its answer; an idle one is done.
    this.clientEnded = true;
    if (!this.busy) this.socket.end();
  };

  private readonly onClientError = (): void => {
    this.socket.destroy();
  };

  private readonly onClientClose = (): void => {
    this.closed = true;
    if (this.headTimer) clearTimeout(this.headTimer);
    if (this.busy && this.upstream) this.upstream.destroy();
  };

  private readonly onClientTimeout = (): void => {
    if (!this.busy) this.socket.destroy();
  };

  private readonly onClientDrain = (): void => {
    this.upstream?.resume();
  };

  /** Parses the next request head in `pending` and serves it (or hands the connection over). */
  private nextRequest(): void {
    const buf = this.pending;
    if (buf === null || this.closed || this.handedOff) return;
    const parsed = parseRequestHead(buf, 0, buf.length);
    if (parsed.state === 'incomplete') {
      this.socket.setTimeout(HEADERS_TIMEOUT_MS);
      return;
    }
    if (parsed.state === 'invalid') {
      this.fail(parsed.status === 431 ? 'AP_ERR_HEADERS_TOO_LARGE' : 'AP_ERR_BAD_REQUEST', undefined);
      return;
    }
    const head = parsed.head;
    if (head.fallback !== null) {
      this.handOff();
      return;
    }
    const circuit = this.circuitOf(head.host);
    if (
      circuit === null ||
      circuit.closed ||
      circuit.spec.endpoint !== undefined ||
      circuit.serving !== 'http' ||
      head.target.startsWith('/_appproxy/') ||
      (circuit.legacy && head.target.startsWith('/setup'))
    ) {
      this.handOff();
      return;
    }
    // Wildcard mode: a keep-alive connection belongs to the circuit of the request it carries.
    circuit.adopt(this.socket as TrackedSocket);
    const ctx = this.o.ctx;
    const auth = verifyRequest(ctx.cookies, ctx.revocations, circuit, {
      headers: { cookie: head.cookie },
      socket: this.socket,
    } as never);
    // Refusals (and their pages) are node:http's: same answer, one place.
    if (typeof auth === 'string') {
      this.handOff();
      return;
    }
    const entry = circuit.upstream.pickRaw();
    if (entry === null) {
      this.handOff();
      return;
    }
    this.start(circuit, entry, head, buf);
  }

  /** node:http takes the connection from the first byte of the current message. */
  private handOff(): void {
    this.handedOff = true;
    this.o.ctx.metrics.countFastPath(false);
    const s = this.socket;
    s.off('data', this.onClientData);
    s.off('end', this.onClientEnd);
    s.off('error', this.onClientError);
    s.off('close', this.onClientClose);
    s.off('timeout', this.onClientTimeout);
    s.off('drain', this.onClientDrain);
    s.setTimeout(0);
    s.pause();
    if (this.pending) s.unshift(this.pending);
    this.pending = null;
    this.o.handOff(s);
    s.resume();
  }

  private start(circuit: Circuit, entry: BackendEntry, head: RequestHead, buf: Buffer): void {
    this.busy = true;
    this.circuit = circuit;
    this.entry = entry;
    this.req = head;
    this.reqBody = head.body;
    this.reqDone = head.body.kind === 'none';
    this.reqReader = new BodyReader(head.body);
    this.resStarted = this.resHeadSent = this.resDone = this.resClose = false;
    this.replayed = false;
    this.upHead = null;
    this.pending = null;
    this.socket.setTimeout(0);
    this.upstreamHead = this.buildUpstreamHead(head);
    // The body bytes already here are checked first: a malformed body that arrived with its head
    // is refused before anything reaches the app.
    this.early = [];
    const rest = head.headEnd < buf.length ? buf.subarray(head.headEnd) : null;
    if (rest) {
      if (this.reqDone) this.keepPipelined(rest);
      else if (!this.requestBody(rest, 0)) return;
    }
    circuit.countRequest(this.socket as TrackedSocket);
    this.o.ctx.metrics.countFastPath(true);
    this.connectUpstream();
  }

  private keepPipelined(bytes: Buffer): void {
    this.pending = this.pending ? Buffer.concat([this.pending, bytes]) : bytes;
    this.socket.pause();
  }

  private buildUpstreamHead(head: RequestHead): string {
    const fwd = this.o.ctx.forwarding.upstreamHeaders({
      headers: headerRecord(head),
      socket: this.socket,
    } as never);
    let out = `${head.method} ${head.target} HTTP/1.1\r\n`;
    for (const name in fwd) {
      const v = fwd[name]!;
      if (typeof v === 'string') out += `${name}: ${v}\r\n`;
      else for (const x of v) out += `${name}: ${x}\r\n`;
    }
    if (head.body.kind === 'chunked') out += 'transfer-encoding: chunked\r\n';
    return `${out}\r\n`;
  }

  /**
   * Request body bytes from buf[from…]: relayed by their framing; what follows the body waits.
   * False when the body is malformed (the client got its 400).
   */
  private requestBody(buf: Buffer, from: number): boolean {
    const r = this.reqReader!;
    const up = this.upstream;
    // A chunked body is decoded, checked and re-chunked; a counted one goes as it came.
    const chunked = r.framing.kind === 'chunked';
    if (chunked) up?.cork();
    this.feeding = buf;
    const stop = r.feed(buf, from, buf.length, chunked ? this.upChunk : this.upRun);
    this.feeding = null;
    if (stop < 0) {
      if (chunked) up?.uncork();
      this.fail('AP_ERR_BAD_REQUEST', undefined);
      return false;
    }
    if (r.done) {
      if (chunked) this.writeUp('0\r\n\r\n');
      this.reqDone = true;
      if (up) this.armHeadTimer();
      if (stop < buf.length) this.keepPipelined(buf.subarray(stop));
    }
    if (chunked) up?.uncork();
    if (this.reqDone) this.exchangeMaybeDone();
    return true;
  }

  private readonly upRun = (a: number, b: number): void => {
    const buf = this.feeding!;
    this.writeUp(a === 0 && b === buf.length ? buf : buf.subarray(a, b));
  };

  private readonly upChunk = (a: number, b: number): void => {
    this.writeUp(`${(b - a).toString(16)}\r\n`);
    this.writeUp(this.feeding!.subarray(a, b));
    this.writeUp('\r\n');
  };

  private writeUp(data: Buffer | string): void {
    const up = this.upstream;
    if (up === null) {
      // Before the backend connection is taken (and kept for a replay): copied, the caller's
      // buffer may be reused.
      this.early?.push(typeof data === 'string' ? data : Buffer.from(data));
      return;
    }
    if (!up.write(data)) this.socket.pause();
  }

  // ------------------------------------------------------------------ upstream side

  private connectUpstream(): void {
    const { socket, reused } = this.entry!.raw.acquire();
    this.upstream = socket;
    this.reused = reused;
    this.upConnected = reused;
    if (!reused) socket.once('connect', this.onUpConnect);
    socket.on('data', this.onUpData);
    socket.on('end', this.onUpEnd);
    socket.on('error', this.onUpError);
    socket.on('close', this.onUpClose);
    socket.on('drain', this.onUpDrain);
    socket.cork();
    socket.write(this.upstreamHead);
    if (this.early) for (const part of this.early) socket.write(part);
    socket.uncork();
    // Kept only while a replay may need them (a body-less request): see onUpClose.
    if (this.reqBody.kind !== 'none') this.early = null;
    if (this.reqDone) this.armHeadTimer();
  }

  /**
   * The backend's time to answer counts from the end of the request (an upload may take long) and
   * from its connection (until then the pool's connect timeout applies, as undici's does).
   */
  private armHeadTimer(): void {
    if (!this.upConnected) return;
    if (this.headTimer) clearTimeout(this.headTimer);
    this.headTimer = this.resHeadSent ? null : setTimeout(this.onHeadTimeout, this.o.headersTimeoutMs);
  }

  private detachUpstream(): Socket | null {
    const up = this.upstream;
    if (!up) return null;
    up.off('data', this.onUpData);
    up.off('end', this.onUpEnd);
    up.off('error', this.onUpError);
    up.off('close', this.onUpClose);
    up.off('drain', this.onUpDrain);
    up.off('connect', this.onUpConnect);
    this.upstream = null;
    return up;
  }

  private readonly onUpConnect = (): void => {
    this.upConnected = true;
    if (this.reqDone) this.armHeadTimer();
  };

  private readonly onHeadTimeout = (): void => {
    this.headTimer = null;
    if (!this.resHeadSent) this.upstreamFailed('headers');
  };

  private readonly onUpDrain = (): void => {
    if (!this.reqDone) this.socket.resume();
  };

  private readonly onUpData = (chunk: Buffer): void => {
    this.resStarted = true;
    if (!this.resHeadSent) {
      const buf = this.upHead ? Buffer.concat([this.upHead, chunk]) : chunk;
      this.upHead = buf;
      this.responseHead(buf);
      return;
    }
    this.responseBody(chunk, 0);
  };

  private responseHead(buf: Buffer): void {
    const method = this.req!.method;
    let at = 0;
    for (;;) {
      const parsed = parseResponseHead(buf, at, buf.length, method);
      if (parsed.state === 'incomplete') {
        this.upHead = at === 0 ? buf : buf.subarray(at);
        return;
      }
      if (parsed.state === 'invalid') {
        this.upstreamFailed('reset');
        return;
      }
      const h = parsed.head;
      if (h.status === 101) {
        this.upstreamFailed('reset');
        return;
      }
      if (h.status < 200) {
        // Informational answers (103 Early Hints) are not relayed, as on the node:http path.
        at = h.headEnd;
        continue;
      }
      if (this.headTimer) clearTimeout(this.headTimer);
      this.headTimer = null;
      this.upHead = null;
      // Head and the body bytes that came with it leave in one write (writev).
      const down = this.socket;
      down.cork();
      this.sendResponseHead(h.status, h.reason, h.headers, h.rawNames, h.body);
      this.resReader = new BodyReader(h.body);
      this.resClose = h.close || h.body.kind === 'close';
      if (this.resReader.done) {
        down.uncork();
        this.responseDone();
        return;
      }
      if (h.headEnd < buf.length) this.responseBody(buf, h.headEnd);
      down.uncork();
      return;
    }
  }

  private sendResponseHead(
    status: number,
    reason: string,
    headers: string[],
    rawNames: string[],
    body: BodyFraming,
  ): void {
    const named = connectionNamed(headers[headers.indexOf('connection') + 1]?.toLowerCase());
    let out = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? (reason || 'Unknown')}\r\n`;
    let hasDate = false;
    for (let k = 0; k < headers.length; k += 2) {
      const name = headers[k]!;
      if (isHopByHop(name) || named?.has(name)) continue;
      if (name === 'date') hasDate = true;
      out += `${rawNames[k >> 1]}: ${headers[k + 1]}\r\n`;
    }
    if (!hasDate) out += `date: ${httpDate()}\r\n`;
    const head = this.req!;
    // A body whose end the app marks by closing goes to the client chunked: the connection stays.
    if (body.kind === 'chunked' || (body.kind === 'close' && head.method !== 'HEAD'))
      out += 'transfer-encoding: chunked\r\n';
    out += head.close
      ? 'connection: close\r\n\r\n'
      : 'connection: keep-alive\r\nkeep-alive: timeout=5\r\n\r\n';
    this.resHeadSent = true;
    this.o.ctx.metrics.countStatus(status);
    this.writeDown(out);
  }

  private responseBody(buf: Buffer, from: number): void {
    const r = this.resReader!;
    // Chunked and close-delimited bodies go to the client chunked (the connection stays).
    const rechunk = r.framing.kind !== 'length';
    const down = this.socket;
    if (rechunk) down.cork();
    this.feeding = buf;
    const stop = r.feed(buf, from, buf.length, rechunk ? this.downChunk : this.downRun);
    this.feeding = null;
    if (rechunk) down.uncork();
    if (stop < 0) {
      this.bodyBroken(r.error ?? 'bad chunked body');
      return;
    }
    if (r.done) {
      // Bytes past the body's end: the backend cannot be trusted with another request.
      if (stop < buf.length) this.resClose = true;
      if (rechunk) this.writeDown('0\r\n\r\n');
      this.responseDone();
    }
  }

  private readonly downRun = (a: number, b: number): void => {
    const buf = this.feeding!;
    this.writeDown(a === 0 && b === buf.length ? buf : buf.subarray(a, b));
  };

  private readonly downChunk = (a: number, b: number): void => {
    this.writeDown(`${(b - a).toString(16)}\r\n`);
    this.writeDown(this.feeding!.subarray(a, b));
    this.writeDown('\r\n');
  };

  private writeDown(data: Buffer | string): void {
    if (!this.socket.write(data)) this.upstream?.pause();
  }

  private readonly onUpEnd = (): void => {
    if (this.resHeadSent && this.resReader?.framing.kind === 'close' && !this.resDone) {
      this.writeDown('0\r\n\r\n');
      this.resClose = true;
      this.responseDone();
      return;
    }
    this.onUpClose();
  };

  private readonly onUpError = (): void => {
    this.upstream?.destroy();
  };

  private readonly onUpClose = (): void => {
    if (!this.busy || this.resDone) return;
    const up = this.detachUpstream();
    up?.destroy();
    if (this.resHeadSent) {
      this.bodyBroken('the app closed the connection mid-body');
      return;
    }
    // A pooled connection the backend had just closed: replay once on a fresh one when safe.
    if (
      this.reused &&
      !this.resStarted &&
      !this.replayed &&
      REPLAYABLE.has(this.req!.method) &&
      this.reqBody.kind === 'none'
    ) {
      this.replayed = true;
      // The fresh connection's headers timeout starts when it connects (onUpConnect).
      if (this.headTimer) clearTimeout(this.headTimer);
      this.headTimer = null;
      this.connectUpstream();
      return;
    }
    this.upstreamFailed(this.upConnected ? 'reset' : 'connect', up);
  };

  private upstreamFailed(phase: 'connect' | 'headers' | 'reset', up?: Socket | null): void {
    if (this.headTimer) clearTimeout(this.headTimer);
    this.headTimer = null;
    (up ?? this.detachUpstream())?.destroy();
    const socketErr = (up as (Socket & { errored?: Error | null }) | undefined)?.errored;
    const code: ErrorCode = socketErr ? PHASE_CODES[failedPhase(socketErr)] : PHASE_CODES[phase];
    this.busy = false;
    this.closed = true;
    const ctx = this.o.ctx;
    const requestId = writeSocketError(this.socket, code, headerOf(this.req!, 'accept'));
    ctx.metrics.countStatus(phase === 'headers' ? 504 : 502);
    ctx.metrics.countUpstreamError(code);
    ctx.logger.warn({ requestId, circuitId: this.circuit?.id, code }, 'upstream request failed');
  }

  private bodyBroken(why: string): void {
    const ctx = this.o.ctx;
    ctx.metrics.countUpstreamError('AP_ERR_UPSTREAM_BODY');
    ctx.logger.warn(
      { circuitId: this.circuit?.id, code: 'AP_ERR_UPSTREAM_BODY', why },
      'upstream body broken',
    );
    this.detachUpstream()?.destroy();
    this.busy = false;
    // What was relayed goes out first (as on the node:http path), then the connection is cut.
    while (this.socket.writableCorked > 0) this.socket.uncork();
    this.socket.destroy();
  }

  private responseDone(): void {
    this.resDone = true;
    this.exchangeMaybeDone();
  }

  /** Both messages complete: the backend connection goes back, the next request may start. */
  private exchangeMaybeDone(): void {
    if (!this.resDone || !this.reqDone) return;
    const up = this.detachUpstream();
    if (up) {
      up.resume();
      if (this.resClose) up.destroy();
      else this.entry!.raw.release(up);
    }
    this.busy = false;
    this.entry = null;
    const close = this.req!.close || this.clientEnded;
    this.req = null;
    this.early = null;
    if (close) {
      this.closed = true;
      this.socket.end();
      return;
    }
    this.socket.setTimeout(KEEP_ALIVE_MS);
    this.socket.resume();
    if (this.pending) this.nextRequest();
  }

  private fail(code: ErrorCode, message: string | undefined): void {
    this.busy = false;
    this.closed = true;
    this.detachUpstream()?.destroy();
    writeSocketError(this.socket, code, 'application/json', message);
    this.o.ctx.metrics.countStatus(code === 'AP_ERR_HEADERS_TOO_LARGE' ? 431 : 400);
  }
}

function headerOf(h: RequestHead, name: string): string | undefined {
  const list = h.headers;
  for (let k = 0; k < list.length; k += 2) if (list[k] === name) return list[k + 1];
  return undefined;
}
