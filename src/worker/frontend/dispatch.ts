/**
 * What happens to a request once a frontend found (or did not find) its circuit:
 * circuit open? → reserved paths (`/_appproxy/*`) → framing checks → auth (`verifyRequest`)
 * → proxy (HTTP or upgrade). Errors answer with registry codes and a request id.
 * TCP circuits: raw connections go to `connect` (allow-list, public); a tunnel circuit's port
 * speaks HTTP only for `/_appproxy/tunnel` (see tcp/tunnel.ts) and refuses everything else.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { ERRORS, type ErrorCode } from '../../contracts/errors.ts';
import type { SetupTokenVerifier } from '../../core/setup-token.ts';
import type { CounterStore } from '../../stores/types.ts';
import { type AppCookies, verifyRequest } from '../access/app-cookie.ts';
import { handleLogout, handleSetup, type ReservedContext } from '../access/setup.ts';
import type { AccessLog } from '../observe/access-log.ts';
import { sendError, writeSocketError } from '../observe/error-pages.ts';
import type { WorkerMetrics } from '../observe/metrics.ts';
import type { Circuit, TrackedSocket } from '../routing/circuit.ts';
import type { ForwardingPolicy } from '../transport/headers.ts';
import { proxyHttp } from '../transport/http.ts';
import { acceptTcp } from '../transport/tcp-relay.ts';
import { DEFAULT_TUNNEL_PING_INTERVAL_MS, TUNNEL_PATH, TunnelEndpoint } from '../transport/tunnel.ts';
import { proxyUpgrade } from '../transport/upgrade.ts';

/** Everything the request path needs, built once per worker. */
export interface WorkerContext {
  cookies: AppCookies;
  verifier: SetupTokenVerifier;
  counters: CounterStore;
  forwarding: ForwardingPolicy;
  metrics: WorkerMetrics;
  logger: Logger;
  upstreamHeadersTimeoutMs: number;
  /** Access records of long-lived connections (TCP, tunnel, WebSocket). */
  access: AccessLog;
  /** How often tunnel clients are pinged (default 30 s). */
  tunnelPingIntervalMs?: number;
}

const RESERVED = '/_appproxy/';
const TUNNEL_ONLY =
  'This port carries AppProxy tunnels only: connect with `appproxy tunnel <circuit>` (WebSocket /_appproxy/tunnel).';

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
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
  private readonly tunnels: TunnelEndpoint;

  constructor(private readonly ctx: WorkerContext) {
    this.tunnels = new TunnelEndpoint({
      verifier: ctx.verifier,
      counters: ctx.counters,
      access: ctx.access,
      metrics: ctx.metrics,
      logger: ctx.logger,
      pingIntervalMs: ctx.tunnelPingIntervalMs ?? DEFAULT_TUNNEL_PING_INTERVAL_MS,
    });
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
    if (circuit.access !== null) {
      this.fail(req, res, 'AP_ERR_BAD_REQUEST', TUNNEL_ONLY);
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
    let message: string | undefined;
    if (circuit === undefined || circuit.closed) code = circuit ? 'AP_ERR_CIRCUIT_CLOSED' : miss;
    else {
      circuit.adopt(socket as TrackedSocket);
      const url = req.url ?? '';
      if (url.charCodeAt(0) !== 47 || framingError(req)) code = 'AP_ERR_BAD_REQUEST';
      else if (pathOf(url) === TUNNEL_PATH) {
        this.tunnels.handle(circuit, req, socket, head).catch((err: unknown) => {
          const requestId = writeSocketError(socket, 'AP_ERR_INTERNAL', 'application/json');
          this.ctx.logger.error({ requestId, err, circuitId: circuit.id }, 'tunnel failed');
        });
        return;
      } else if (url.startsWith(RESERVED)) code = 'AP_ERR_BAD_REQUEST';
      else if (circuit.access !== null) {
        code = 'AP_ERR_BAD_REQUEST';
        message = TUNNEL_ONLY;
      } else if (req.headers.upgrade?.toLowerCase() !== 'websocket') code = 'AP_ERR_BAD_REQUEST';
      else code = verifyRequest(this.ctx.cookies, circuit, req);
    }
    if (code !== null) {
      writeSocketError(socket, code, req.headers.accept, message);
      this.ctx.metrics.countStatus(ERRORS[code].status);
      return;
    }
    circuit!.countRequest(socket as TrackedSocket);
    proxyUpgrade(this.ctx, circuit!, req, socket, head);
  }

  /** A raw TCP connection accepted on an `allow-list` or `public` circuit's port. */
  connect(circuit: Circuit, socket: Socket): void {
    acceptTcp(this.ctx.access, circuit, socket);
  }

  private handleReserved(circuit: Circuit, url: string, req: IncomingMessage, res: ServerResponse): void {
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    if (path === TUNNEL_PATH) {
      if (circuit.access === 'tunnel') {
        this.fail(req, res, 'AP_ERR_BAD_REQUEST', 'The tunnel is a WebSocket: GET with Upgrade: websocket.');
      } else this.fail(req, res, 'AP_ERR_TUNNEL_NOT_AVAILABLE');
      return;
    }
    // Setup links and cookies belong to http circuits; a tunnel port has no use for them.
    if (circuit.access !== null) {
      this.fail(req, res, 'AP_ERR_BAD_REQUEST', TUNNEL_ONLY);
      return;
    }
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
