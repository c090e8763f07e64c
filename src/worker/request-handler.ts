/**
 * What happens to a request once a frontend found (or did not find) its circuit:
 * circuit open? → reserved paths (`/_appproxy/*`) → framing checks → auth (`verifyRequest`)
 * → proxy (HTTP or upgrade). Errors answer with registry codes and a request id.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { ERRORS, type ErrorCode } from '../contracts/errors.ts';
import type { SetupTokenVerifier } from '../core/setup-token.ts';
import type { CounterStore } from '../stores/types.ts';
import { type AppCookies, verifyRequest } from './auth/app-cookie.ts';
import { handleLogout, handleSetup, type ReservedContext } from './auth/setup.ts';
import type { Circuit, TrackedSocket } from './circuit.ts';
import { sendError, writeSocketError } from './errors-page.ts';
import type { WorkerMetrics } from './metrics.ts';
import type { ForwardingPolicy } from './proxy/headers.ts';
import { proxyHttp } from './proxy/http.ts';
import { proxyUpgrade } from './proxy/websocket.ts';

/** Everything the request path needs, built once per worker. */
export interface WorkerContext {
  cookies: AppCookies;
  verifier: SetupTokenVerifier;
  counters: CounterStore;
  forwarding: ForwardingPolicy;
  metrics: WorkerMetrics;
  logger: Logger;
  upstreamHeadersTimeoutMs: number;
}

const RESERVED = '/_appproxy/';
const DIGITS = /^\d+$/;

/**
 * Refuses ambiguous framing. Node's parser already rejects most of it (CL with TE, bad chunking,
 * differing Content-Lengths); this keeps the rule explicit whatever the parser's leniency.
 */
function framingError(req: IncomingMessage): boolean {
  const te = req.headers['transfer-encoding'];
  const cl = req.headers['content-length'];
  if (te !== undefined) {
    if (cl !== undefined) return true;
    return !/(?:^|,)\s*chunked\s*$/i.test(te);
  }
  return cl !== undefined && !DIGITS.test(cl);
}

export class RequestHandler {
  private readonly reserved: ReservedContext;

  constructor(private readonly ctx: WorkerContext) {
    this.reserved = {
      cookies: ctx.cookies,
      verifier: ctx.verifier,
      counters: ctx.counters,
      logger: ctx.logger,
      countStatus: (s) => ctx.metrics.countStatus(s),
    };
  }

  handle(circuit: Circuit | undefined, miss: ErrorCode, req: IncomingMessage, res: ServerResponse): void {
    const code = this.route(circuit, miss, req, res);
    if (code !== null) this.fail(req, res, code);
  }

  /** Returns the error to answer with, or null once the request was handed on. */
  private route(
    circuit: Circuit | undefined,
    miss: ErrorCode,
    req: IncomingMessage,
    res: ServerResponse,
  ): ErrorCode | null {
    if (circuit === undefined) return miss;
    if (circuit.closed) return 'AP_ERR_CIRCUIT_CLOSED';
    circuit.adopt(req.socket as TrackedSocket);
    const url = req.url ?? '';
    if (url.charCodeAt(0) !== 47 /* / */) return 'AP_ERR_BAD_REQUEST';
    if (url.startsWith(RESERVED)) {
      this.handleReserved(circuit, url, req, res);
      return null;
    }
    if (framingError(req)) return 'AP_ERR_BAD_REQUEST';
    const denied = verifyRequest(this.ctx.cookies, circuit, req);
    if (denied !== null) return denied;
    circuit.countRequest(req.socket as TrackedSocket);
    proxyHttp(this.ctx, circuit, req, res);
    return null;
  }

  upgrade(
    circuit: Circuit | undefined,
    miss: ErrorCode,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): void {
    let code: ErrorCode | null = null;
    if (circuit === undefined || circuit.closed) code = circuit ? 'AP_ERR_CIRCUIT_CLOSED' : miss;
    else {
      circuit.adopt(socket as TrackedSocket);
      const url = req.url ?? '';
      if (url.charCodeAt(0) !== 47 || url.startsWith(RESERVED) || framingError(req))
        code = 'AP_ERR_BAD_REQUEST';
      else if (req.headers.upgrade?.toLowerCase() !== 'websocket') code = 'AP_ERR_BAD_REQUEST';
      else code = verifyRequest(this.ctx.cookies, circuit, req);
    }
    if (code !== null) {
      writeSocketError(socket, code, req.headers.accept);
      this.ctx.metrics.countStatus(ERRORS[code].status);
      return;
    }
    circuit!.countRequest(socket as TrackedSocket);
    proxyUpgrade(this.ctx, circuit!, req, socket, head);
  }

  private handleReserved(circuit: Circuit, url: string, req: IncomingMessage, res: ServerResponse): void {
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    if (path === '/_appproxy/setup') {
      handleSetup(this.reserved, circuit, req, res, query).catch((err: unknown) => {
        const requestId = sendError(req, res, 'AP_ERR_INTERNAL');
        this.ctx.logger.error({ requestId, err, circuitId: circuit.id }, 'setup failed');
      });
      return;
    }
    if (path === '/_appproxy/logout') handleLogout(this.reserved, circuit, req, res, query);
    else this.fail(req, res, 'AP_ERR_NOT_FOUND', 'No such AppProxy path.');
  }

  private fail(req: IncomingMessage, res: ServerResponse, code: ErrorCode, message?: string): void {
    sendError(req, res, code, message);
    this.ctx.metrics.countStatus(ERRORS[code].status);
  }
}
