/**
 * HTTP/1.1 upgrades (WebSocket, and any other protocol a client asks for) through the circuit's
 * upstream: the handshake goes to a backend on the circuit's own pool with the client's request
 * line and end-to-end headers (Sec-WebSocket-*, Origin, Cookie minus app cookies, forwarding
 * headers; Upgrade/Connection are the pool's to write), under the same headers timeout as a
 * request, so a backend that does not answer fails with the same phase code as HTTP
 * (upstream/errors.ts). The backend's 101 is relayed as it sent it, and the two sockets are
 * linked: a WebSocket becomes a `WsRelay` (idle timeout, pings, access record: ws-relay.ts) that
 * carries the grant of the app cookie that authorized it, so a revocation ends it; any other
 * upgrade is relayed as raw bytes. A non-101 answer (the app refusing the upgrade) is relayed
 * as a response and the socket closed.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Credential } from '../../contracts/auth.ts';
import { ERRORS } from '../../contracts/errors.ts';
import { clientAddress } from '../connections/connection.ts';
import type { WorkerContext } from '../context.ts';
import { writeSocketError } from '../observe/error-pages.ts';
import type { Circuit } from '../routing/circuit.ts';
import { upstreamErrorCode } from '../upstream/errors.ts';
import { downstreamHeaders } from './headers.ts';
import { WsRelay } from './ws-relay.ts';

function headBlock(status: number, message: string, flat: readonly (string | Buffer)[]): string {
  let s = `HTTP/1.1 ${status} ${message}\r\n`;
  for (let i = 0; i < flat.length; i += 2) s += `${flat[i]}: ${flat[i + 1]}\r\n`;
  return `${s}\r\n`;
}

/**
 * Raw relay of a non-WebSocket upgrade: bytes both ways with backpressure. Module-level handlers
 * and a peer pointer on each socket instead of `pipe()` (≈ 8 closures and listeners per
 * direction) and per-connection closures: an idle connection should cost little more than its
 * two sockets.
 */
const kPeer = Symbol('appproxy.peer');
type Linked = Duplex & { [kPeer]?: Linked };

function relayData(this: Linked, chunk: Buffer): void {
  const peer = this[kPeer]!;
  if (!peer.write(chunk)) this.pause();
}

function relayDrain(this: Linked): void {
  this[kPeer]?.resume();
}

function relayEnd(this: Linked): void {
  this[kPeer]?.end();
}

function destroyBoth(this: Linked): void {
  const peer = this[kPeer];
  this.destroy();
  peer?.destroy();
}

function link(a: Linked, b: Linked): void {
  a[kPeer] = b;
  b[kPeer] = a;
  for (const s of [a, b]) {
    s.on('data', relayData);
    s.on('drain', relayDrain);
    s.on('error', destroyBoth);
    s.on('close', destroyBoth);
    s.on('end', relayEnd); // half-close passes through, as pipe() did
  }
}

const kUpgrade = Symbol('appproxy.upgrade');
type Client = Duplex & { [kUpgrade]?: UpgradeHandshake };

function onClientGone(this: Client): void {
  this[kUpgrade]?.clientGone();
}

function onClientDrain(this: Client): void {
  this[kUpgrade]?.controller?.resume();
}

/** One upgrade handshake: the handler of the upstream's answer. */
class UpgradeHandshake implements Dispatcher.DispatchHandler {
  controller: Dispatcher.DispatchController | null = null;
  /** The backend answered (101 or a response head): errors after this cannot be answered. */
  private answered = false;
  /** Nothing more comes from the backend (101 taken over, response ended, or failed). */
  private over = false;
  private gone = false;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly circuit: Circuit,
    private readonly req: IncomingMessage,
    private readonly client: Client,
    private readonly head: Buffer,
    private readonly credential: Credential,
  ) {
    client[kUpgrade] = this;
    client.once('close', onClientGone);
  }

  /** The client went away: whatever the backend is still sending is not wanted. */
  clientGone(): void {
    this.gone = true;
    if (!this.over) this.controller?.abort(new Error('client went away'));
  }

  private end(): void {
    this.over = true;
    this.client[kUpgrade] = undefined;
    this.client.off('close', onClientGone);
    this.client.off('drain', onClientDrain);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.gone) controller.abort(new Error('client went away'));
  }

  onRequestUpgrade(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    socket: Socket,
  ): void {
    this.answered = true;
    this.end();
    const { client, circuit, ctx } = this;
    // A revocation that arrived during the backend's handshake found no connection to end yet.
    const revoked = ctx.revocations.revoked(this.credential) !== null;
    if (client.destroyed || circuit.closed || revoked) {
      if (revoked) ctx.metrics.countRevoked('connection');
      socket.destroy();
      client.destroy();
      return;
    }
    ctx.metrics.countStatus(statusCode);
    socket.setNoDelay(true);
    (client as Socket).setNoDelay?.(true);
    // A 101 needs its Upgrade/Connection headers: relayed as the app sent them.
    const raw = (controller as { rawHeaders?: (string | Buffer)[] }).rawHeaders ?? [];
    client.write(headBlock(statusCode, 'Switching Protocols', raw));
    // Bytes the backend sent right after its 101 were put back into the socket: they arrive
    // as its first data, through the relay like any other.
    if (String(headers.upgrade).toLowerCase() === 'websocket') {
      const relay = new WsRelay(
        ctx.connections,
        ctx.keepalive,
        circuit,
        client as Socket,
        socket,
        clientAddress(client as Socket),
        this.credential,
      );
      relay.start(this.head, Buffer.alloc(0));
      return;
    }
    if (this.head.length > 0) socket.write(this.head);
    link(client, socket);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    if (statusCode < 200) return;
    this.answered = true;
    this.ctx.metrics.countStatus(statusCode);
    const flat = downstreamHeaders(headers);
    flat.push('connection', 'close');
    this.client.on('drain', onClientDrain);
    this.client.write(headBlock(statusCode, statusMessage || ERRORS_REASON[statusCode] || '', flat));
    if (this.client.destroyed) controller.abort(new Error('client went away'));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.client.write(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    this.end();
    this.client.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    const { client, circuit, ctx } = this;
    this.end();
    if (this.answered || this.gone || client.destroyed) {
      client.destroy();
      return;
    }
    const code = circuit.closed ? 'AP_ERR_CIRCUIT_CLOSED' : upstreamErrorCode(err);
    const requestId = writeSocketError(client, code, this.req.headers.accept);
    ctx.metrics.countStatus(ERRORS[code].status);
    ctx.metrics.countUpstreamError(code);
    ctx.logger.warn({ requestId, circuitId: circuit.id, code, err }, 'upstream upgrade failed');
  }
}

/** Reason phrases for relayed refusals when the backend's own is not at hand. */
const ERRORS_REASON: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  426: 'Upgrade Required',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/**
 * Proxies an upgrade request of `circuit` (the socket is already the circuit's) that `credential`
 * (the app cookie) authorized.
 */
export function proxyUpgrade(
  ctx: WorkerContext,
  circuit: Circuit,
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  credential: Credential,
): void {
  const handshake = new UpgradeHandshake(ctx, circuit, req, client, head, credential);
  circuit.upstream.upgrade(
    {
      path: req.url!,
      method: req.method as Dispatcher.HttpMethod,
      headers: ctx.forwarding.upstreamHeaders(req),
    },
    req.headers.upgrade!,
    handshake,
  );
}
