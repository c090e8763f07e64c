/**
 * Port mode: one listener per circuit on the circuit's port at `bindHost`. A replacement on the
 * same port keeps the listener and swaps the circuit behind it; every socket the listener accepts
 * belongs to its circuit from the first byte.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { AppProxyError } from '../../contracts/errors.ts';
import type { Circuit, TrackedSocket } from '../circuit.ts';
import type { RequestHandler } from '../request-handler.ts';
import type { Frontend } from '../routing-table.ts';
import { createFrontendServer, listen, shutDown } from './server.ts';

class PortListener {
  readonly server: Server;

  constructor(
    public circuit: Circuit,
    handler: RequestHandler,
  ) {
    this.server = createFrontendServer(
      (req: IncomingMessage, res: ServerResponse) =>
        handler.handle(this.circuit, 'AP_ERR_CIRCUIT_CLOSED', req, res),
      (req: IncomingMessage, socket: Duplex, head: Buffer) =>
        handler.upgrade(this.circuit, 'AP_ERR_CIRCUIT_CLOSED', req, socket, head),
    );
    this.server.on('connection', (socket: TrackedSocket) => this.circuit.adopt(socket));
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
    if (holder) {
      holder.circuit = next;
      return;
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
    if (previous) this.detach(previous);
  }

  detach(circuit: Circuit): void {
    const port = circuit.spec.port!;
    const l = this.listeners.get(port);
    if (!l || l.circuit !== circuit) return;
    this.listeners.delete(port);
    shutDown(l.server);
  }

  async close(): Promise<void> {
    for (const l of this.listeners.values()) shutDown(l.server);
    this.listeners.clear();
  }
}
