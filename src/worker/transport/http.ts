/**
 * HTTP proxying over the circuit's upstream (a keep-alive pool per backend, see
 * upstream/upstream.ts), streaming both ways: the client request is the upstream body stream, and
 * each upstream chunk is written to the client as it arrives, with backpressure (pause upstream
 * while the client socket drains). SSE events therefore reach the browser one by one; large
 * bodies are never held in memory.
 *
 * Failures name their phase (upstream/errors.ts): connect ⇒ 502 AP_ERR_UPSTREAM_CONNECT; no
 * response head in time ⇒ 504 AP_ERR_UPSTREAM_HEADERS_TIMEOUT; connection lost before the head ⇒
 * 502 AP_ERR_UPSTREAM_RESET; body broken after the head was sent ⇒ the client socket is destroyed
 * (the response cannot be corrected any more) and AP_ERR_UPSTREAM_BODY is logged. There is no
 * total timeout. A client that goes away aborts the upstream request.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { WorkerContext } from '../context.ts';
import { sendError } from '../observe/error-pages.ts';
import type { Circuit } from '../routing/circuit.ts';
import { upstreamErrorCode } from '../upstream/errors.ts';
import { downstreamHeaders } from './headers.ts';

const kProxy = Symbol('appproxy.proxy');
type ProxiedResponse = ServerResponse & { [kProxy]?: HttpProxyRequest };

class ClientGone extends Error {
  override readonly name = 'ClientGone';
}

function onClientClose(this: ProxiedResponse): void {
  const p = this[kProxy];
  if (p && !p.done) p.abort();
}

function onClientDrain(this: ProxiedResponse): void {
  this[kProxy]?.controller?.resume();
}

/** One proxied request; a class instance rather than closures, to keep the hot path lean. */
class HttpProxyRequest implements Dispatcher.DispatchHandler {
  controller: Dispatcher.DispatchController | null = null;
  done = false;
  private clientGone = false;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly circuit: Circuit,
    private readonly req: IncomingMessage,
    private readonly res: ProxiedResponse,
  ) {}

  abort(): void {
    this.clientGone = true;
    this.controller?.abort(new ClientGone('client went away'));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone) controller.abort(new ClientGone('client went away'));
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (statusCode < 200) return; // 1xx informational: Node answers 100-continue itself.
    const res = this.res;
    try {
      res.writeHead(statusCode, downstreamHeaders(headers));
    } catch (err) {
      // A header Node refuses to send (invalid characters): the response cannot be relayed.
      controller.abort(err as Error);
      return;
    }
    // Event streams must reach the browser before the first event.
    const type = headers['content-type'];
    if (typeof type === 'string' && type.startsWith('text/event-stream')) res.flushHeaders();
    this.ctx.metrics.countStatus(statusCode);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', onClientDrain);
    }
  }

  onResponseEnd(): void {
    this.done = true;
    this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.done = true;
    const res = this.res;
    if (this.clientGone || err instanceof ClientGone) {
      res.destroy();
      return;
    }
    if (this.circuit.closed) {
      sendError(this.req, res, 'AP_ERR_CIRCUIT_CLOSED');
      return;
    }
    if (res.headersSent) {
      this.ctx.metrics.countUpstreamError('AP_ERR_UPSTREAM_BODY');
      this.ctx.logger.warn(
        { circuitId: this.circuit.id, code: 'AP_ERR_UPSTREAM_BODY', err },
        'upstream body broken',
      );
      res.destroy();
      return;
    }
    const code = this.req.destroyed ? 'AP_ERR_BAD_REQUEST' : upstreamErrorCode(err);
    const requestId = sendError(this.req, res, code);
    this.ctx.metrics.countStatus(res.statusCode);
    this.ctx.metrics.countUpstreamError(code);
    this.ctx.logger.warn({ requestId, circuitId: this.circuit.id, code, err }, 'upstream request failed');
  }
}

export function proxyHttp(
  ctx: WorkerContext,
  circuit: Circuit,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const h = req.headers;
  const hasBody =
    h['transfer-encoding'] !== undefined ||
    (h['content-length'] !== undefined && h['content-length'] !== '0');
  const p = new HttpProxyRequest(ctx, circuit, req, res);
  const r = res as ProxiedResponse;
  r[kProxy] = p;
  r.on('close', onClientClose); // on, not once: once allocates a wrapper per request
  circuit.upstream.dispatch(
    {
      path: req.url!,
      method: req.method as Dispatcher.HttpMethod,
      headers: ctx.forwarding.upstreamHeaders(req),
      body: hasBody ? req : null,
    },
    p,
  );
}
