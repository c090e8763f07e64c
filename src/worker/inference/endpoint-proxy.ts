/**
 * One request to an inference endpoint, from arrival to its last byte:
 *
 * 1. **Body**: read whole (bounded by `maxBodyBytes`, 413 beyond) — inference bodies are small and
 *    everything after needs them: the model (a key scoped to models), `max_tokens` and the prompt's
 *    size (token limits), the prompt itself (prefix affinity), and a copy to replay on a retry.
 * 2. **Admission**: the key's requests and tokens per minute (reserved now across every worker,
 *    settled at the end with what the engine reported), then the endpoint's concurrency cap with a
 *    bounded queue (503 `AP_ERR_ENDPOINT_BUSY` + `Retry-After` past it).
 * 3. **A route**: the runtime's choice among usable routes; none ready ⇒ held (bounded, up to the
 *    hold deadline; streaming calls get SSE comment heartbeats) and dispatched the moment one is.
 * 4. **Attempts**: a request that has sent nothing to the client — connect refused, reset before the
 *    head, 503/429 before the first byte, or its route turned unusable while it waited for the head
 *    — is replayed to another route from its buffered body (bodies up to `retry.bufferBytes`),
 *    within the retry budget; the failed attempt is already over (aborted or ended) when the retry
 *    is sent, so nothing generates twice. A response already streaming that breaks ends with an
 *    OpenAI-shaped SSE error event and `[DONE]` (or a cut connection for non-SSE answers).
 * 5. **Streaming**: no total timeout; `streamIdleTimeoutMs` between chunks. The usage tap strips the
 *    usage-only chunk the client did not ask for (we add `stream_options.include_usage` so usage is
 *    always known) and reads the usage for accounting and metrics.
 * 6. **Cancellation**: a client that goes away in any phase leaves its queue, or aborts the attempt
 *    in flight (undici destroys its connection: the engine sees the close and stops generating); a
 *    client's leaving is never counted against a route's health.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import type { EndpointKeyRecord } from '../../contracts/endpoint.ts';
import { ERRORS, type ErrorCode } from '../../contracts/errors.ts';
import type { WorkerContext } from '../context.ts';
import { newRequestId } from '../observe/error-pages.ts';
import type { Circuit } from '../routing/circuit.ts';
import { downstreamHeaders } from '../transport/headers.ts';
import { failedPhase, upstreamErrorCode } from '../upstream/errors.ts';
import type { PromptKey } from '../upstream/prefix-cache.ts';
import type { BackendEntry } from '../upstream/upstream.ts';
import type { Reservation } from './limits.ts';
import { estimateTokens, inspectRequest, withIncludeUsage } from './openai-body.ts';
import type { EndpointRuntime, PendingAttempt, Waiter } from './runtime.ts';
import { UsageTap } from './usage-tap.ts';

/** Why an attempt was aborted by us (never the route's fault when the client left). */
class ClientGone extends Error {
  override readonly name = 'ClientGone';
}
class RetryableAnswer extends Error {
  override readonly name = 'RetryableAnswer';
  constructor(readonly status: number) {
    super(`the route answered ${status} before any byte reached the client`);
  }
}
class RouteUnusable extends Error {
  override readonly name = 'RouteUnusable';
}
class StreamIdle extends Error {
  override readonly name = 'StreamIdle';
}

/** Tokens reserved for the answer when the request sets no `max_tokens`. */
const DEFAULT_COMPLETION_RESERVE = 512;
/** A body kept for an SSE-wrapped error answer (after heartbeats committed a 200). */
const ERROR_BODY_KEEP = 16 * 1024;
/** The first heartbeat of a held streaming call comes this soon (the client then knows it is accepted). */
const FIRST_HEARTBEAT_MS = 1_000;

function isSse(headers: IncomingHttpHeaders): boolean {
  const t = headers['content-type'];
  return typeof t === 'string' && t.startsWith('text/event-stream');
}

/** An OpenAI-shaped error object (what OpenAI clients read), carrying our stable code. */
function errorObject(code: ErrorCode, message: string | undefined, requestId: string): string {
  const status = ERRORS[code].status;
  return JSON.stringify({
    error: {
      message: message ?? ERRORS[code].message,
      type: status === 429 ? 'rate_limit_error' : status < 500 ? 'invalid_request_error' : 'server_error',
      code,
      param: null,
      request_id: requestId,
    },
  });
}

/** The answer to a request refused before it reached a route (JSON, for programs). */
export function sendEndpointError(
  res: ServerResponse,
  code: ErrorCode,
  message?: string,
  retryAfterS?: number,
): string {
  const requestId = newRequestId();
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return requestId;
  }
  const body = errorObject(code, message, requestId);
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-request-id': requestId,
  };
  if (retryAfterS !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterS)));
  res.writeHead(ERRORS[code].status, headers);
  res.end(body);
  return requestId;
}

function onClientClose(this: ServerResponse & { [kReq]?: EndpointRequest }): void {
  this[kReq]?.clientClosed();
}
function onClientDrain(this: ServerResponse & { [kReq]?: EndpointRequest }): void {
  this[kReq]?.attempt?.controller?.resume();
}
const kReq = Symbol('appproxy.endpointRequest');

/**
 * The endpoint request a client socket carries now. A FIN from the client while it runs means the
 * client went away: the frontends allow half-open sockets (a tool may half-close after its request
 * and still read the answer), which would otherwise leave the engine generating until the next
 * write fails. Inference servers treat a FIN as a disconnect too (uvicorn's `http.disconnect`).
 */
const kActive = Symbol('appproxy.endpointActive');
type EndpointSocket = Socket & { [kActive]?: EndpointRequest | null };

function onSocketEnd(this: EndpointSocket): void {
  this[kActive]?.clientClosed(true);
}

/** One attempt on one route; forwards undici's callbacks to its request. */
class Attempt implements Dispatcher.DispatchHandler, PendingAttempt {
  controller: Dispatcher.DispatchController | null = null;
  /** Why we aborted it, if we did. */
  abortedFor: Error | null = null;
  headSeen = false;
  over = false;

  constructor(
    private readonly r: EndpointRequest,
    readonly entry: BackendEntry,
  ) {}

  abort(reason: Error): void {
    if (this.over || this.abortedFor) return;
    this.abortedFor = reason;
    this.controller?.abort(reason);
  }

  /** Bytes of this attempt's answer reached the client (from then on it is never replayed). */
  relayed = false;

  routeUnusable(): void {
    if (!this.relayed) this.abort(new RouteUnusable('the route stopped answering its health checks'));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortedFor) controller.abort(this.abortedFor);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    status: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (status < 200 || this.abortedFor) return;
    this.headSeen = true;
    this.r.onHead(this, controller, status, headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.abortedFor) this.r.onData(this, controller, chunk);
  }

  onResponseEnd(): void {
    if (this.over) return;
    this.over = true;
    this.r.onEnd(this);
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    if (this.over) return;
    this.over = true;
    this.r.onError(this, this.abortedFor ?? err);
  }
}

type Phase = 'body' | 'admitting' | 'queued' | 'held' | 'attempting' | 'done';

export class EndpointRequest implements Waiter {
  private phase: Phase = 'body';
  private readonly arrivedAt = performance.now();
  private body: Buffer | null = null;
  private json: Record<string, unknown> | null = null;
  private model: string | null = null;
  private stream = false;
  private stripUsage = false;
  private promptTokens = 0;
  private reservation: Reservation | null = null;
  private prompt: PromptKey | null = null;
  private affinity: string | null = null;
  private readonly tried = new Set<BackendEntry>();
  attempt: Attempt | null = null;
  /** The route of the latest attempt (the one that answered, when one did). */
  private lastEntry: BackendEntry | null = null;
  private attempts = 0;
  private admitted = false;
  private retrying = false;
  /** We wrote the response head (a route's, or a 200 for heartbeats while held). */
  private committed = false;
  /** Bytes of a route's answer reached the client: no retry any more. */
  private relayed = false;
  private sse = false;
  /** A route's response head not written yet (it goes out with the first body bytes). */
  private pendingHead: { status: number; headers: IncomingHttpHeaders } | null = null;
  private status = 0;
  private route = 'none';
  /** A committed stream ended by an error event (its status stays the head's 200). */
  private streamFailed = false;
  private tap: UsageTap | null = null;
  /** A route's error answer after heartbeats committed a 200: kept, then sent as an SSE error. */
  private wrappedError: { status: number; chunks: Buffer[]; size: number } | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private holdTimer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private lastError: Error | null = null;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly rt: EndpointRuntime,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly key: EndpointKeyRecord | null,
  ) {}

  private get endpointId(): string {
    return this.rt.endpointId;
  }

  start(): void {
    const res = this.res as ServerResponse & { [kReq]?: EndpointRequest };
    res[kReq] = this;
    res.on('close', onClientClose);
    const socket = this.req.socket as EndpointSocket;
    if (socket[kActive] === undefined) socket.on('end', onSocketEnd);
    socket[kActive] = this;
    const max = this.rt.settings.maxBodyBytes;
    const declared = Number(this.req.headers['content-length'] ?? 0);
    if (declared > max) {
      this.refuseBody(max);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    this.req.on('data', (c: Buffer) => {
      if (this.phase !== 'body') return;
      size += c.length;
      if (size > max) {
        this.refuseBody(max);
        return;
      }
      chunks.push(c);
    });
    this.req.on('end', () => {
      if (this.phase !== 'body') return;
      this.onBody(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    this.req.on('error', () => this.clientClosed());
  }

  private refuseBody(max: number): void {
    // The rest of the body is not read: the connection cannot carry another request.
    this.res.shouldKeepAlive = false;
    this.refuse(
      'AP_ERR_BODY_TOO_LARGE',
      `The request body is larger than this endpoint accepts (${max} bytes).`,
    );
  }

  private onBody(body: Buffer): void {
    const info = inspectRequest(body, this.req.headers['content-type'] as string | undefined);
    this.json = info.json;
    this.model = info.model;
    this.stream = info.stream;
    this.body = body.length > 0 ? body : null;
    const key = this.key;
    if (key && key.models.length > 0 && this.req.method !== 'GET' && this.req.method !== 'HEAD') {
      if (this.model === null || !key.models.includes(this.model)) {
        this.refuse(
          'AP_ERR_MODEL_NOT_ALLOWED',
          `This key may use ${key.models.join(', ')}; the request asks for ${this.model ?? 'no model'}.`,
        );
        return;
      }
    }
    this.promptTokens = estimateTokens(info.promptChars);
    if (this.json && info.stream && !info.includeUsageAsked) {
      this.body = withIncludeUsage(this.json);
      this.stripUsage = true;
    }
    if (this.json) this.prompt = this.rt.promptKey(this.json);
    const header = this.rt.settings.affinityHeader;
    if (header) {
      const v = this.req.headers[header];
      this.affinity = typeof v === 'string' && v !== '' ? v : null;
    }
    const limits = this.limitsOf(key);
    if (key && (limits.rpm !== null || limits.tpm !== null)) {
      this.phase = 'admitting';
      const reserve = this.promptTokens + (info.maxTokens ?? DEFAULT_COMPLETION_RESERVE);
      this.ctx.inference.limiter.admit(key.id, limits, reserve).then(
        (v) => {
          if (this.phase !== 'admitting') {
            if (v.ok) this.ctx.inference.limiter.release(v.reservation);
            return;
          }
          if (!v.ok) {
            this.refuse(
              'AP_ERR_KEY_RATE_LIMITED',
              `This key's ${v.which === 'rpm' ? 'requests' : 'tokens'} per minute are used up.`,
              v.retryAfterMs / 1000,
            );
            return;
          }
          this.reservation = v.reservation;
          this.enqueue();
        },
        (err: unknown) => {
          // The counter store is down: limits cannot be checked; serving beats refusing everyone.
          this.ctx.logger.warn({ err, endpointId: this.endpointId }, 'key limits not checked');
          if (this.phase === 'admitting') this.enqueue();
        },
      );
      return;
    }
    this.enqueue();
  }

  private limitsOf(key: EndpointKeyRecord | null): { rpm: number | null; tpm: number | null } {
    const l = this.rt.settings.limits;
    return {
      rpm: key?.rpm !== undefined && key.rpm !== null ? key.rpm : l.rpm,
      tpm: key?.tpm !== undefined && key.tpm !== null ? key.tpm : l.tpm,
    };
  }

  private enqueue(): void {
    const slot = this.rt.admit(this);
    if (slot === null) {
      this.refuse('AP_ERR_ENDPOINT_BUSY', undefined, 1);
      return;
    }
    if (slot) {
      this.admitted = true;
      this.next();
    } else this.phase = 'queued';
  }

  /** Queued (a slot freed) or held (a route turned ready): go on. */
  resume(): void {
    if (this.phase === 'queued') {
      this.admitted = true;
      this.next();
    } else if (this.phase === 'held') {
      this.clearHold();
      this.next();
    }
  }

  /** The next attempt, on a route not tried yet; or hold; or the last failure. */
  private next(): void {
    this.phase = 'attempting';
    const entry = this.rt.choose(this.prompt, this.affinity, this.tried);
    if (entry === null) {
      const routeLeft = this.tried.size > 0 && this.rt.ready;
      if (!routeLeft && this.rt.hold(this)) {
        this.startHold();
        return;
      }
      this.failBeforeAnswer(this.lastError);
      return;
    }
    this.tried.add(entry);
    this.attempts++;
    const a = new Attempt(this, entry);
    this.attempt = a;
    this.lastEntry = entry;
    this.route = entry.route;
    this.rt.awaitingHead(entry, a);
    this.ctx.inference.metrics.inflight(this.endpointId, this.route, 1);
    const headers = this.ctx.forwarding.upstreamHeaders(this.req);
    delete headers['content-length'];
    this.rt.dispatchTo(
      entry,
      {
        path: this.req.url!,
        method: this.req.method as Dispatcher.HttpMethod,
        headers,
        body: this.body,
      },
      a,
    );
  }

  private startHold(): void {
    this.phase = 'held';
    const h = this.rt.settings.hold;
    this.holdTimer = setTimeout(() => {
      this.holdTimer = null;
      if (this.phase !== 'held') return;
      this.rt.unhold(this);
      this.failBeforeAnswer(null);
    }, h.timeoutMs);
    if (this.stream && !this.heartbeat)
      this.heartbeat = setTimeout(() => this.beat(), Math.min(FIRST_HEARTBEAT_MS, h.heartbeatMs));
  }

  /** An SSE comment while held: commits a 200 event stream (the eventual answer continues it). */
  private beat(): void {
    this.heartbeat = null;
    if (this.phase !== 'held') return;
    if (!this.committed) {
      this.committed = true;
      this.sse = true;
      this.status = 200;
      this.res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        'x-accel-buffering': 'no',
      });
    }
    this.res.write(': waiting for a ready replica\n\n');
    this.heartbeat = setTimeout(() => this.beat(), this.rt.settings.hold.heartbeatMs);
  }

  private clearHold(): void {
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = null;
    if (this.heartbeat) clearTimeout(this.heartbeat);
    this.heartbeat = null;
  }

  private canRetry(): boolean {
    const r = this.rt.settings.retry;
    return (
      this.ctx.flags.enabled('endpointRetries') &&
      !this.relayed &&
      this.attempts <= r.attempts &&
      (this.body === null || this.body.length <= r.bufferBytes) &&
      (this.retrying || this.rt.retryAllowed())
    );
  }

  private retry(): void {
    if (!this.retrying) {
      this.retrying = true;
      this.rt.retriesInFlight++;
    }
    this.ctx.inference.metrics.retried(this.endpointId);
    this.next();
  }

  onHead(
    a: Attempt,
    _controller: Dispatcher.DispatchController,
    status: number,
    headers: IncomingHttpHeaders,
  ): void {
    const health = this.rt.health;
    if ((status === 503 || status === 429) && this.canRetry()) {
      if (status === 503) health.onFailure(a.entry.key, 'status', `answered ${status}`);
      a.abort(new RetryableAnswer(status));
      return;
    }
    if (status >= 500) health.onFailure(a.entry.key, 'status', `answered ${status}`);
    else health.onSuccess(a.entry.key);
    this.status = status;
    const ok = status >= 200 && status < 300;
    if (this.committed) {
      // Heartbeats already sent a 200 event stream: a non-stream or failed answer becomes an event.
      if (!ok || !isSse(headers)) this.wrappedError = { status, chunks: [], size: 0 };
      else this.status = 200;
    } else {
      // The head waits for the first body bytes: a replica that dies between its head and its
      // first token (engines send the head at once) has still sent the client nothing, so the
      // request can go to another route.
      this.pendingHead = { status, headers };
      this.sse = isSse(headers);
    }
    if (ok && this.json && !this.wrappedError)
      this.tap = new UsageTap({ streaming: isSse(headers), stripUsageChunk: this.stripUsage });
    const idle = this.rt.settings.streamIdleTimeoutMs;
    this.idleTimer = setTimeout(() => a.abort(new StreamIdle('stream idle')), idle);
  }

  onData(a: Attempt, controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.idleTimer?.refresh();
    const w = this.wrappedError;
    if (w) {
      if (w.size < ERROR_BODY_KEEP) {
        w.chunks.push(chunk);
        w.size += chunk.length;
      }
      return;
    }
    const out = this.tap ? this.tap.push(chunk) : chunk;
    if (out === null || out.length === 0) return;
    if (this.pendingHead && !this.writeHead(controller)) return;
    if (!a.relayed) {
      a.relayed = true;
      // Something reached the client: a route turning unusable no longer replays this one.
      this.rt.headDone(a.entry, a);
    }
    this.relayed = true;
    if (!this.res.write(out)) {
      controller.pause();
      this.res.once('drain', onClientDrain);
    }
  }

  onEnd(a: Attempt): void {
    this.attemptOver(a);
    if (this.phase === 'done') return;
    const w = this.wrappedError;
    if (w) {
      const text = Buffer.concat(w.chunks).toString('utf8');
      this.endStreamWithError(
        'AP_ERR_UPSTREAM_RESET',
        `The replica answered ${w.status}: ${text.slice(0, 2000)}`,
      );
      return;
    }
    if (this.pendingHead && !this.writeHead(null)) {
      this.finish();
      return;
    }
    const tail = this.tap?.end();
    if (tail && tail.length > 0) {
      this.relayed = true;
      this.res.end(tail);
    } else this.res.end();
    this.finish();
  }

  onError(a: Attempt, err: Error): void {
    this.attemptOver(a);
    if (this.phase === 'done' || err instanceof ClientGone) return;
    const key = a.entry.key;
    if (err instanceof RetryableAnswer || err instanceof RouteUnusable) {
      this.replayOrFail(err, true);
      return;
    }
    if (!a.headSeen) {
      const phase = failedPhase(err);
      this.rt.health.onFailure(
        key,
        phase === 'connect' ? 'connect' : phase === 'headers' ? 'timeout' : 'reset',
        err.message,
      );
      this.replayOrFail(err, phase === 'connect' || phase === 'reset');
      return;
    }
    if (this.pendingHead) {
      // Its head came but nothing reached the client: a replica that broke or went quiet before
      // its first bytes has sent the client nothing either.
      this.rt.health.onFailure(key, err instanceof StreamIdle ? 'timeout' : 'reset', err.message);
      this.replayOrFail(err, true);
      return;
    }
    if (!this.committed) {
      this.failBeforeAnswer(err);
      return;
    }
    // The answer broke after bytes of it reached the client: too late to retry.
    const idle = err instanceof StreamIdle;
    this.rt.health.onFailure(key, idle ? 'timeout' : 'reset', err.message);
    const code: ErrorCode = idle ? 'AP_ERR_UPSTREAM_STREAM_IDLE' : 'AP_ERR_UPSTREAM_BODY';
    this.ctx.metrics.countUpstreamError(code);
    this.ctx.logger.warn(
      { endpointId: this.endpointId, route: this.route, code, err },
      'endpoint stream broken',
    );
    if (this.sse)
      this.endStreamWithError(code, idle ? undefined : "The replica's stream broke before it ended.");
    else {
      this.res.destroy();
      this.finish();
    }
  }

  /** Writes the route's head kept back until its first body bytes; false when Node refused it. */
  private writeHead(controller: Dispatcher.DispatchController | null): boolean {
    const h = this.pendingHead!;
    this.pendingHead = null;
    try {
      this.res.writeHead(h.status, downstreamHeaders(h.headers));
    } catch (err) {
      // A header Node refuses to send (invalid characters): the answer cannot be relayed.
      if (controller) controller.abort(err as Error);
      else this.res.destroy();
      return false;
    }
    this.committed = true;
    if (this.sse) this.res.flushHeaders();
    return true;
  }

  /** An attempt that sent the client nothing failed: the next route if allowed, else the error. */
  private replayOrFail(err: Error, replayable: boolean): void {
    // A head the attempt sent was kept back: nothing of it stays.
    this.pendingHead = null;
    this.tap = null;
    this.status = 0;
    this.lastError = err;
    if (replayable && this.canRetry()) {
      // The failed attempt is its route's error, though another route may still answer.
      this.rt.answered(this.route, true, performance.now() - this.arrivedAt, null);
      this.retry();
    } else this.failBeforeAnswer(err);
  }

  private attemptOver(a: Attempt): void {
    this.rt.headDone(a.entry, a);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.ctx.inference.metrics.inflight(this.endpointId, a.entry.route, -1);
    if (this.attempt === a) this.attempt = null;
  }

  /** No route's answer reached the client: an error answer (or event, if heartbeats committed). */
  private failBeforeAnswer(err: Error | null): void {
    let code: ErrorCode;
    if (err === null) code = 'AP_ERR_NO_ROUTE';
    else if (err instanceof RetryableAnswer) code = 'AP_ERR_NO_ROUTE';
    else if (err instanceof StreamIdle) code = 'AP_ERR_UPSTREAM_STREAM_IDLE';
    else if (err instanceof RouteUnusable) code = 'AP_ERR_UPSTREAM_RESET';
    else code = upstreamErrorCode(err);
    if (err) this.ctx.metrics.countUpstreamError(code);
    if (this.committed) {
      this.endStreamWithError(code, undefined);
      return;
    }
    this.refuse(code, undefined, code === 'AP_ERR_NO_ROUTE' ? 1 : undefined);
  }

  /** An OpenAI-shaped error event then `[DONE]`: how a stream that cannot go on ends. */
  private endStreamWithError(code: ErrorCode, message: string | undefined): void {
    this.streamFailed = true;
    const id = newRequestId();
    if (!this.res.destroyed) this.res.end(`data: ${errorObject(code, message, id)}\n\ndata: [DONE]\n\n`);
    this.finish();
  }

  private refuse(code: ErrorCode, message?: string, retryAfterS?: number): void {
    this.status = ERRORS[code].status;
    sendEndpointError(this.res, code, message, retryAfterS);
    this.ctx.inference.metrics.refusedWith(this.endpointId, code);
    this.finish();
  }

  /** The client went away (or its request broke): whatever phase, nothing of it stays. */
  clientClosed(fin = false): void {
    if (this.phase === 'done') return;
    if (this.res.writableFinished) return;
    if (this.phase === 'queued') this.rt.leaveQueue(this);
    else if (this.phase === 'held') this.rt.unhold(this);
    this.attempt?.abort(new ClientGone('client went away'));
    this.finish();
    if (fin) this.res.destroy();
  }

  private finish(): void {
    if (this.phase === 'done') return;
    const wasAdmitted = this.admitted;
    this.phase = 'done';
    const socket = this.req.socket as EndpointSocket | null;
    if (socket && socket[kActive] === this) socket[kActive] = null;
    this.clearHold();
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (wasAdmitted) this.rt.release();
    if (this.retrying) this.rt.retriesInFlight--;
    const seconds = (performance.now() - this.arrivedAt) / 1000;
    const m = this.ctx.inference.metrics;
    if (this.status > 0) {
      m.answered(this.endpointId, this.route, this.status, seconds);
      this.ctx.metrics.countStatus(this.status);
    }
    const usage = this.tap?.usage(this.promptTokens) ?? null;
    // The route's window counts what a route answered or failed; refusals before any attempt
    // (no route, limits) are the endpoint's, not a route's.
    // A client that left before any answer says nothing of the route.
    if (this.attempts > 0 && this.route !== 'none' && (this.status > 0 || this.streamFailed)) {
      const first = this.tap?.firstTokenAt ?? null;
      this.rt.answered(
        this.route,
        this.streamFailed || this.status >= 500,
        seconds * 1000,
        first === null ? null : Math.max(0, first - this.arrivedAt),
      );
    }
    if (usage) {
      this.ctx.inference.usage.record(this.endpointId, this.key?.id ?? null, usage);
      m.countTokens(this.endpointId, usage.promptTokens, usage.completionTokens, usage.cachedTokens);
      const first = this.tap!.firstTokenAt;
      if (first !== null) {
        m.firstToken(this.endpointId, this.route, Math.max(0, first - this.arrivedAt) / 1000);
        const last = this.tap!.lastTokenAt;
        if (last !== null && usage.completionTokens > 1) {
          const msPerToken = (last - first) / (usage.completionTokens - 1);
          m.perOutputToken(this.endpointId, this.route, msPerToken / 1000);
          // Only whole answers pace a route (a stream cut short says nothing of its speed).
          if (this.lastEntry !== null && this.status === 200 && !usage.estimated)
            this.rt.observePace(this.lastEntry, msPerToken);
        }
      }
    }
    if (this.reservation) {
      // Never reached an engine (refused, held then left, no route): the key gets it all back.
      if (this.attempts === 0) this.ctx.inference.limiter.release(this.reservation);
      else {
        const used = usage ? usage.promptTokens + usage.completionTokens : this.promptTokens;
        this.ctx.inference.limiter.settle(this.reservation, used);
      }
      this.reservation = null;
    }
  }
}

/** Serves one request to an endpoint circuit (its access already checked: `key` when a token endpoint). */
export function serveEndpointRequest(
  ctx: WorkerContext,
  circuit: Circuit,
  req: IncomingMessage,
  res: ServerResponse,
  key: EndpointKeyRecord | null,
): void {
  const rt = circuit.endpoint;
  if (!rt) {
    sendEndpointError(res, 'AP_ERR_NO_ROUTE');
    return;
  }
  new EndpointRequest(ctx, rt, req, res, key).start();
}
