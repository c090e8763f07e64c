/**
 * Port mode: one listener per circuit on the circuit's port at `bindHost`. http circuits and TCP
 * circuits in `tunnel` mode get the HTTP server (a tunnel port answers `/_appproxy/tunnel` only);
 * TCP circuits in `allow-list` or `public` mode get a raw TCP server that relays every accepted
 * connection. A circuit changed in place keeps its listener; one whose access mode moved between
 * tunnel and raw TCP gets the other kind of listener on the same port (its connections of the old
 * kind were ended as `revoked` just before). Every socket a listener accepts belongs to its
 * circuit from the first byte.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { AppProxyError } from '../../contracts/errors.ts';
import { TCP_KEEPALIVE_MS } from '../connections/keepalive.ts';
import { FastListener, type FastPathSettings } from '../fastpath/listener.ts';
import type { Circuit, Serving, TrackedSocket } from '../routing/circuit.ts';
import type { Frontend } from '../routing/routing-table.ts';
import type { Dispatch } from './dispatch.ts';
import { createFrontendServer, listen, shutDown } from './server.ts';

type ListenerKind = 'http' | 'tcp';

/** Raw TCP circuits get a TCP listener; http circuits and tunnel ports speak HTTP. */
function listenerFor(serving: Serving): ListenerKind {
  return serving === 'tcp' ? 'tcp' : 'http';
}

class PortListener {
  readonly server: NetServer;
  readonly kind: ListenerKind;
  /** What every request on this port resolves to (one object, not one per request). */
  found: { circuit: Circuit };
  private fast: FastListener | null = null;
  private http: ReturnType<typeof createFrontendServer> | null = null;

  constructor(circuit: Circuit, dispatch: Dispatch, fastPath: FastPathSettings | null) {
    this.found = { circuit };
    this.kind = listenerFor(circuit.serving);
    if (this.kind === 'tcp') {
      this.server = createTcpServer(
        // Half-close passes through: the relay decides when each write half ends. Accepted paused:
        // the relay chooses how the socket reads (transport/tcp-relay.ts).
        {
          allowHalfOpen: true,
          noDelay: true,
          keepAlive: true,
          keepAliveInitialDelay: TCP_KEEPALIVE_MS,
          pauseOnConnect: true,
        },
        (socket: Socket) => dispatch.connect(this.found.circuit, socket),
      );
      return;
    }
    const server = createFrontendServer(
      (req: IncomingMessage, res: ServerResponse) => dispatch.request(this.found, req, res),
      (req: IncomingMessage, socket: Duplex, head: Buffer) => dispatch.upgrade(this.found, req, socket, head),
    );
    server.on('connection', (socket: TrackedSocket) => this.found.circuit.adopt(socket));
    this.http = server;
    if (fastPath === null) {
      this.server = server;
      return;
    }
    // The fast path reads every connection first; what it does not serve goes to `server`.
    const circuitOf = () => this.found.circuit;
    this.fast = new FastListener(server, dispatch.context, fastPath, circuitOf, (socket) =>
      this.found.circuit.adopt(socket as TrackedSocket),
    );
    this.server = this.fast.server;
  }

  get circuit(): Circuit {
    return this.found.circuit;
  }

  close(): void {
    if (this.kind === 'http') {
      this.fast?.close();
      shutDown(this.http!);
    }
    // Raw relays belong to their circuit (kept, revoked or closed with it).
    else this.server.close();
  }
}

export class PortFrontend implements Frontend {
  private readonly listeners = new Map<number, PortListener>();

  constructor(
    private readonly bindHost: string,
    private readonly dispatch: Dispatch,
    private readonly reusePort = false,
    private readonly fastPath: FastPathSettings | null = null,
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
    if (holder && holder.kind === listenerFor(next.serving)) {
      holder.found = { circuit: next };
      return;
    }
    if (holder) {
      // Another kind of listener on the same port: the old one must let go of the port first.
      this.listeners.delete(port);
      holder.close();
    }
    await this.listenFor(next, port);
    if (previous && !holder) this.detach(previous);
  }

  async reattach(circuit: Circuit, before: Serving): Promise<void> {
    if (listenerFor(circuit.serving) === listenerFor(before)) return;
    const port = circuit.spec.port!;
    const holder = this.listeners.get(port);
    if (holder?.circuit === circuit) {
      this.listeners.delete(port);
      holder.close();
    }
    await this.listenFor(circuit, port);
  }

  private async listenFor(circuit: Circuit, port: number): Promise<void> {
    const l = new PortListener(circuit, this.dispatch, this.fastPath);
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
