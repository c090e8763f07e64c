/**
 * What happens to a request, an upgrade or a raw TCP connection once a frontend resolved its slot
 * to a circuit (or did not): circuit open? → by the way the circuit's slot speaks (`serving`):
 * - `http` (apps): reserved paths (`/_appproxy/setup`, `/_appproxy/logout`: access/setup.ts) →
 *   framing checks → the app cookie and the revocation set (access/app-cookie.ts) →
 *   transport/http.ts, or for a WebSocket upgrade transport/upgrade.ts, which keeps the cookie's
 *   grant on the WebSocket so that a revocation finds it;
 * - `tunnel` (a TCP circuit's port that carries authenticated tunnels): only the WebSocket
 *   `GET /_appproxy/tunnel` (transport/tunnel.ts); everything else is refused;
 * - `tcp` (raw TCP: allow-list or public): each accepted connection is relayed
 *   (transport/tcp-relay.ts).
 * Errors answer with registry codes and a request id (observe/error-pages.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { EndpointKeyRecord } from '../../contracts/endpoint.ts';
import { ERRORS, type ErrorCode } from '../../contracts/errors.ts';
import type { CircuitFlow } from '../../contracts/records.ts';
import { verifyRequest } from '../access/app-cookie.ts';
import { handleLogout, handleSetup, type ReservedContext } from '../access/setup.ts';
import type { WorkerContext } from '../context.ts';
import { sendEndpointError, serveEndpointRequest } from '../inference/endpoint-proxy.ts';
import { sendError, writeSocketError } from '../observe/error-pages.ts';
import type { Circuit, TrackedSocket } from '../routing/circuit.ts';
import { proxyHttp } from '../transport/http.ts';
import { acceptTcp } from '../transport/tcp-relay.ts';
import { TUNNEL_PATH, type TunnelEndpoint } from '../transport/tunnel.ts';
import { proxyUpgrade } from '../transport/upgrade.ts';

/** What a frontend found for a request: the circuit of its slot, or the error to answer with. */
export type Resolved = { circuit: Circuit } | { miss: ErrorCode };

const RESERVED = '/_appproxy/';
const LEGACY_SETUP = '/setup';
const TUNNEL_ONLY =
  'This port carries AppProxy tunnels only: connect with `appproxy tunnel <circuit>` (WebSocket /_appproxy/tunnel).';
const DIGITS = /^\d+$/;

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/**
 * Refuses ambiguous framing. Node's parser already rejects most of it (CL with TE, bad chunking,
 * differing Content-Lengths); this keeps the rule explicit whatever the parser's leniency.
 */
function framingError(req: IncomingMessage): boolean {
  // More than one Host line is refused (RFC 9112 §3.2); node:http would keep the first.
  if (hostLines(req.rawHeaders) > 1) return true;
  const te = req.headers['transfer-encoding'];
  const cl = req.headers['content-length'];
  if (te !== undefined) {
    if (cl !== undefined) return true;
    return !/(?:^|,)\s*chunked\s*$/i.test(te);
  }
  return cl !== undefined && !DIGITS.test(cl);
}

function hostLines(raw: string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') n++;
  }
  return n;
}

/** A refusal: the code, and a more precise message when the registry's is not enough. */
type Refusal = { code: ErrorCode; message?: string };

export class Dispatch {
  private readonly reserved: ReservedContext;

  /** What the fast path shares with this dispatcher (cookies, revocations, forwarding, metrics). */
  get context(): WorkerContext {
    return this.ctx;
  }

  constructor(
    private readonly ctx: WorkerContext,
    private readonly tunnels: TunnelEndpoint,
  ) {
    this.reserved = {
      cookies: ctx.cookies,
      verifier: ctx.verifier,
      counters: ctx.counters,
      revocations: ctx.revocations,
      links: ctx.links,
      logger: ctx.logger,
      countStatus: (s) => ctx.metrics.countStatus(s),
      countRevoked: (what) => ctx.metrics.countRevoked(what),
    };
  }

  /**
   * The checks every request and upgrade passes first: a circuit that is open, the socket made
   * the circuit's (its bytes are the circuit's activity from here), an origin-form target.
   */
  private open(found: Resolved, socket: Duplex, url: string): Circuit | Refusal {
    if ('miss' in found) return { code: found.miss };
    const circuit = found.circuit;
    if (circuit.closed) return { code: 'AP_ERR_CIRCUIT_CLOSED' };
    circuit.adopt(socket as TrackedSocket);
    if (url.charCodeAt(0) !== 47 /* / */) return { code: 'AP_ERR_BAD_REQUEST' };
    return circuit;
  }

  request(found: Resolved, req: IncomingMessage, res: ServerResponse): void {
    const refusal = this.serveRequest(found, req, res);
    if (refusal) this.fail(req, res, refusal);
  }

  /** Returns the refusal to answer with, or null once the request was handed on. */
  private serveRequest(found: Resolved, req: IncomingMessage, res: ServerResponse): Refusal | null {
    const url = req.url ?? '';
    const circuit = this.open(found, req.socket, url);
    if ('code' in circuit) return circuit;
    if (circuit.spec.endpoint) return this.serveEndpoint(circuit, req, res);
    if (url.startsWith(RESERVED)) return this.reservedPath(circuit, url, req, res);
    if (circuit.serving !== 'http') return { code: 'AP_ERR_BAD_REQUEST', message: TUNNEL_ONLY };
    // Backend.AI's setup path, on legacy-flow circuits only (an integrated app keeps its /setup).
    if (circuit.legacy && url.startsWith(LEGACY_SETUP) && pathOf(url) === '/setup') {
      return this.setup(circuit, url, req, res, 'legacy');
    }
    if (framingError(req)) return { code: 'AP_ERR_BAD_REQUEST' };
    const verified = verifyRequest(this.ctx.cookies, this.ctx.revocations, circuit, req);
    if (typeof verified === 'string') return this.denied(verified);
    circuit.countRequest(req.socket as TrackedSocket);
    proxyHttp(this.ctx, circuit, req, res);
    return null;
  }

  /**
   * A request to an inference endpoint's URL: no app cookie (programs call endpoints), but the
   * endpoint's access: `public` passes; `token` needs an endpoint key (`Authorization: Bearer`).
   * Then it is proxied to one of the endpoint's routes, chosen by its balancing policy.
   */
  private serveEndpoint(circuit: Circuit, req: IncomingMessage, res: ServerResponse): Refusal | null {
    if (framingError(req)) return { code: 'AP_ERR_BAD_REQUEST' };
    let key: EndpointKeyRecord | null = null;
    if (circuit.spec.endpoint!.access !== 'public') {
      const found = this.ctx.endpointKeys.lookup(circuit.spec.endpointId!, req.headers.authorization);
      if (typeof found === 'string') {
        this.ctx.inference.metrics.refusedWith(circuit.spec.endpointId!, found);
        sendEndpointError(res, found);
        this.ctx.metrics.countStatus(ERRORS[found].status);
        return null;
      }
      key = found;
      // The key is the endpoint's business, not the replica's.
      delete req.headers.authorization;
    }
    circuit.countRequest(req.socket as TrackedSocket);
    serveEndpointRequest(this.ctx, circuit, req, res, key);
    return null;
  }

  upgrade(found: Resolved, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refusal = this.serveUpgrade(found, req, socket, head);
    if (refusal) {
      writeSocketError(socket, refusal.code, req.headers.accept, refusal.message, this.ctx.links.loginUrl);
      this.ctx.metrics.countStatus(ERRORS[refusal.code].status);
    }
  }

  private serveUpgrade(found: Resolved, req: IncomingMessage, socket: Duplex, head: Buffer): Refusal | null {
    const url = req.url ?? '';
    const circuit = this.open(found, socket, url);
    if ('code' in circuit) return circuit;
    if (framingError(req)) return { code: 'AP_ERR_BAD_REQUEST' };
    if (circuit.spec.endpoint)
      return { code: 'AP_ERR_BAD_REQUEST', message: 'Inference endpoints take HTTP requests, not upgrades.' };
    if (pathOf(url) === TUNNEL_PATH) {
      this.tunnels.handle(circuit, req, socket, head).catch((err: unknown) => {
        const requestId = writeSocketError(socket, 'AP_ERR_INTERNAL', 'application/json');
        this.ctx.logger.error({ requestId, err, circuitId: circuit.id }, 'tunnel failed');
      });
      return null;
    }
    if (url.startsWith(RESERVED)) return { code: 'AP_ERR_BAD_REQUEST' };
    if (circuit.serving !== 'http') return { code: 'AP_ERR_BAD_REQUEST', message: TUNNEL_ONLY };
    if (req.headers.upgrade?.toLowerCase() !== 'websocket') return { code: 'AP_ERR_BAD_REQUEST' };
    const verified = verifyRequest(this.ctx.cookies, this.ctx.revocations, circuit, req);
    if (typeof verified === 'string') return this.denied(verified);
    // The socket carries no more HTTP requests: it becomes a connection of the registry, which
    // revocation reaches with close frames (not the HTTP sockets' cut, see data-plane.ts).
    this.ctx.cookies.bySocket.delete(socket);
    circuit.countRequest(socket as TrackedSocket);
    proxyUpgrade(this.ctx, circuit, req, socket, head, verified);
    return null;
  }

  /** A raw TCP connection accepted on an `allow-list` or `public` circuit's port. */
  connect(circuit: Circuit, socket: Socket): void {
    acceptTcp(this.ctx, circuit, socket);
  }

  /** An app cookie refused: counted when a revocation (or a stale revocation set) refused it. */
  private denied(code: ErrorCode): Refusal {
    if (code === 'AP_ERR_APP_COOKIE_REVOKED') this.ctx.metrics.countRevoked('cookie');
    else if (code === 'AP_ERR_APP_COOKIE_UNCONFIRMED') this.ctx.metrics.countRevoked('unconfirmed');
    return { code };
  }

  private setup(
    circuit: Circuit,
    url: string,
    req: IncomingMessage,
    res: ServerResponse,
    flow: CircuitFlow,
  ): null {
    const q = url.indexOf('?');
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    handleSetup(this.reserved, circuit, req, res, query, flow).catch((err: unknown) => {
      const requestId = sendError(req, res, 'AP_ERR_INTERNAL');
      this.ctx.logger.error({ requestId, err, circuitId: circuit.id }, 'setup failed');
    });
    return null;
  }

  private reservedPath(
    circuit: Circuit,
    url: string,
    req: IncomingMessage,
    res: ServerResponse,
  ): Refusal | null {
    const path = pathOf(url);
    if (path === TUNNEL_PATH) {
      return circuit.serving === 'tunnel'
        ? { code: 'AP_ERR_BAD_REQUEST', message: 'The tunnel is a WebSocket: GET with Upgrade: websocket.' }
        : { code: 'AP_ERR_TUNNEL_NOT_AVAILABLE' };
    }
    // Setup links and cookies belong to http circuits; a tunnel port has no use for them.
    if (circuit.serving !== 'http') return { code: 'AP_ERR_BAD_REQUEST', message: TUNNEL_ONLY };
    const q = url.indexOf('?');
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    if (path === '/_appproxy/setup') return this.setup(circuit, url, req, res, 'integrated');
    if (path === '/_appproxy/logout') {
      handleLogout(this.reserved, circuit, req, res, query).catch((err: unknown) => {
        const requestId = sendError(req, res, 'AP_ERR_INTERNAL');
        this.ctx.logger.error({ requestId, err, circuitId: circuit.id }, 'logout failed');
      });
      return null;
    }
    return { code: 'AP_ERR_NOT_FOUND', message: 'No such AppProxy path.' };
  }

  private fail(req: IncomingMessage, res: ServerResponse, r: Refusal): void {
    sendError(req, res, r.code, r.message, undefined, this.ctx.links.loginUrl);
    this.ctx.metrics.countStatus(ERRORS[r.code].status);
  }
}
