/**
 * Port mode: one listener per circuit on the circuit's port at `bindHost`. http circuits and TCP
 * circuits in `tunnel` mode get the HTTP server (a tunnel port answers `/_appproxy/tunnel` only);
 * TCP circuits in `allow-list` or `public` mode get a raw TCP server that relays every accepted
 * connection. A replacement on the same port (route update) keeps the listener and swaps the
 * circuit behind it; its live TCP relays and tunnels move to the replacement if it still admits
 * them (an allow-list that no longer matches, a changed access mode: ended with `revoked`). A
 * replacement that needs the other kind of listener re-creates it. Every socket a listener
 * accepts belongs to its circuit from the first byte.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { AppProxyError } from '../../contracts/errors.ts';
import type { Circuit, TrackedSocket } from '../routing/circuit.ts';
import type { Frontend } from '../routing/routing-table.ts';
import { KEEPALIVE_MS } from '../transport/tcp-relay.ts';
import type { RequestHandler } from './dispatch.ts';
import { createFrontendServer, listen, shutDown } from './server.ts';

type ListenerKind = 'http' | 'tcp';

function kindOf(c: Circuit): ListenerKind {
  return c.access === 'allow-list' || c.access === 'public' ? 'tcp' : 'http';
}

class PortListener {
  readonly server: NetServer;
  readonly kind: ListenerKind;

  constructor(
    public circuit: Circuit,
    handler: RequestHandler,
  ) {
    this.kind = kindOf(circuit);
    if (this.kind === 'tcp') {
      this.server = createTcpServer(
        // Half-close passes through: the relay decides when each write half ends. Accepted paused:
        // the relay chooses how the socket reads (tcp/relay.ts).
        {
          allowHalfOpen: true,
          noDelay: true,
          keepAlive: true,
          keepAliveInitialDelay: KEEPALIVE_MS,
          pauseOnConnect: true,
        },
        (socket: Socket) => handler.connect(this.circuit, socket),
      );
      return;
    }
    const server = createFrontendServer(
      (req: IncomingMessage, res: ServerResponse) =>
        handler.handle(this.circuit, 'AP_ERR_CIRCUIT_CLOSED', req, res),
      (req: IncomingMessage, socket: Duplex, head: Buffer) =>
        handler.upgrade(this.circuit, 'AP_ERR_CIRCUIT_CLOSED', req, socket, head),
    );
    server.on('connection', (socket: TrackedSocket) => this.circuit.adopt(socket));
    this.server = server;
  }

  close(): void {
    if (this.kind === 'http') shutDown(this.server as ReturnType<typeof createFrontendServer>);
    // Raw relays belong to their circuit (carried over, revoked or closed with it).
    else this.server.close();
  }
}

/**
 * Moves `previous`'s TCP relays and tunnels to `next` where `next` still admits them and ends the
 * others with `revoked`. Other connections stay with `previous`, which closes them when retired.
 */
function carryOver(previous: Circuit, next: Circuit): void {
  for (const c of [...previous.longLived]) {
    if (c.carryTo && !c.carryTo(next)) c.terminate('revoked');
  }
}

export class PortFrontend implements Frontend {
  private readonly listeners = new Map<number, PortListener>();

  constructor(
    private readonly bindHost: string,
    private readonly handler: RequestHandler,
    private readonly reusePort = false,
  ) {}

  async attach(next: Circuit, previous: Circuit | undefined): Promise<void> {
    const port = next.spec.port!;
    const holder = this.listeners.get(port);
    if (holder && holder.circuit.id !== next.id) {
      throw new AppProxyError(
        'AP_ERR_SLOT_UNAVAILABLE',
        `Port ${port} is held by circuit ${holder.circuit.id}.`,
      );
    }
    if (holder && holder.kind === kindOf(next)) {
      holder.circuit = next;
      if (previous) carryOver(previous, next);
      return;
    }
    if (holder) {
      // Another kind of listener on the same port: the old one must let go of the port first.
      this.listeners.delete(port);
      holder.close();
      if (previous) carryOver(previous, next);
    }
    const l = new PortListener(next, this.handler);
    try {
      await listen(l.server, port, this.bindHost, this.reusePort);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new AppProxyError(
        'AP_ERR_SLOT_UNAVAILABLE',
        `The worker cannot listen on ${this.bindHost}:${port} (${code}).`,
        undefined,
        { cause: err },
      );
    }
    this.listeners.set(port, l);
    if (previous && !holder) this.detach(previous);
  }

  detach(circuit: Circuit): void {
    const port = circuit.spec.port!;
    const l = this.listeners.get(port);
    if (!l || l.circuit !== circuit) return;
    this.listeners.delete(port);
    l.close();
  }

  async close(): Promise<void> {
    for (const l of this.listeners.values()) l.close();
    this.listeners.clear();
  }
}
