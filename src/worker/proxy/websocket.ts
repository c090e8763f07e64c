/**
 * WebSocket (and any HTTP/1.1 upgrade) proxying: the handshake goes upstream on a fresh
 * connection with the client's request line and headers (Upgrade, Connection: Upgrade,
 * Sec-WebSocket-*, Origin, Cookie minus app cookies, X-Forwarded-*); the upstream's 101 is relayed
 * and the two sockets are piped with no frame parsing. A non-101 answer is relayed and the socket
 * closed. Both sockets belong to the circuit, so closing the circuit closes the WebSocket.
 * Bytes are counted from the client socket's counters (see `Circuit.sample`).
 */
import { type ClientRequest, type IncomingMessage, request } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ERRORS } from '../../contracts/errors.ts';
import type { Circuit } from '../circuit.ts';
import { writeSocketError } from '../errors-page.ts';
import type { WorkerContext } from '../request-handler.ts';
import { downstreamHeaders } from './headers.ts';
import { upstreamErrorCode } from './http.ts';

function headBlock(status: number, message: string | undefined, flat: string[]): string {
  let s = `HTTP/1.1 ${status} ${message ?? ''}\r\n`;
  for (let i = 0; i < flat.length; i += 2) s += `${flat[i]}: ${flat[i + 1]}\r\n`;
  return `${s}\r\n`;
}

/**
 * Relays bytes both ways between two sockets with backpressure. Module-level handlers and a peer
 * pointer on each socket instead of `pipe()` (≈ 8 closures and listeners per direction) and
 * per-connection closures: an idle WebSocket should cost little more than its two sockets.
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

export function proxyUpgrade(
  ctx: WorkerContext,
  circuit: Circuit,
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
): void {
  const { host, port } = circuit.backend;
  let answered = false;
  const up: ClientRequest = request({
    host,
    port,
    method: req.method,
    path: req.url,
    headers: ctx.forwarding.upstreamHeaders(req, true),
    setHost: false,
    agent: false,
  });
  const timer = setTimeout(
    () => up.destroy(Object.assign(new Error('headers timeout'), { code: 'UND_ERR_HEADERS_TIMEOUT' })),
    ctx.upstreamHeadersTimeoutMs,
  );
  timer.unref();
  const onClientGone = () => {
    if (!answered) up.destroy();
  };
  client.once('close', onClientGone);
  up.on('socket', (s: Socket) => circuit.trackUpstream(s));

  up.on('upgrade', (res: IncomingMessage, upSocket: Socket, upHead: Buffer) => {
    answered = true;
    clearTimeout(timer);
    client.off('close', onClientGone);
    if (client.destroyed || circuit.closed) {
      upSocket.destroy();
      client.destroy();
      return;
    }
    ctx.metrics.countStatus(101);
    upSocket.setNoDelay(true);
    (client as Socket).setNoDelay?.(true);
    // A 101 needs its Upgrade/Connection headers, so they are relayed as the app sent them.
    const flat: string[] = [];
    for (let i = 0; i < res.rawHeaders.length; i += 2) flat.push(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
    client.write(headBlock(101, res.statusMessage, flat));
    if (upHead.length > 0) client.write(upHead);
    if (head.length > 0) upSocket.write(head);
    link(client, upSocket);
  });

  up.on('response', (res: IncomingMessage) => {
    answered = true;
    clearTimeout(timer);
    client.off('close', onClientGone);
    ctx.metrics.countStatus(res.statusCode ?? 502);
    const flat = downstreamHeaders(res.headers);
    flat.push('connection', 'close');
    client.on('error', () => res.destroy());
    client.write(headBlock(res.statusCode ?? 502, res.statusMessage, flat));
    res.pipe(client);
    res.on('error', () => client.destroy());
  });

  up.on('error', (err: Error) => {
    clearTimeout(timer);
    if (answered) {
      client.destroy();
      return;
    }
    answered = true;
    client.off('close', onClientGone);
    if (client.destroyed) return;
    const code = circuit.closed ? 'AP_ERR_CIRCUIT_CLOSED' : upstreamErrorCode(err);
    const requestId = writeSocketError(client, code, req.headers.accept);
    ctx.metrics.countStatus(ERRORS[code].status);
    ctx.metrics.countUpstreamError(code);
    ctx.logger.warn({ requestId, circuitId: circuit.id, code, err }, 'upstream upgrade failed');
  });
  up.end();
}
