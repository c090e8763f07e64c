/**
 * A frontend listener with the HTTP/1.1 fast path in front of its node:http server: a plain TCP
 * server accepts every connection and gives it to a `FastConnection`, which serves what it can and
 * hands the rest (from the first byte of the message it could not serve) to `http`, the same
 * server the listener would otherwise be. Port mode and wildcard mode differ only in how a
 * request's circuit is found (`circuitOf`).
 */
import type { Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Server as NetServer, type Socket } from 'node:net';
import type { WorkerContext } from '../context.ts';
import { type CircuitOf, FastConnection, type FastPathOptions } from './connection.ts';

/** The HTTP/1.1 fast path's settings; null turns it off (every request through node:http). */
export interface FastPathSettings {
  /** How long a backend may take to send a response head. */
  headersTimeoutMs: number;
}

const kListener = Symbol('appproxy.fastListener');
type FastSocket = Socket & { [kListener]?: FastListener };

function onFastClose(this: FastSocket): void {
  this[kListener]?.forget(this);
}

export class FastListener {
  readonly server: NetServer;
  /** The fast path's connections (node:http tracks the ones handed to it). */
  private readonly sockets = new Set<Socket>();

  constructor(
    http: HttpServer,
    ctx: WorkerContext,
    settings: FastPathSettings,
    circuitOf: CircuitOf,
    onAccept?: (socket: Socket) => void,
  ) {
    const options: FastPathOptions = {
      ctx,
      headersTimeoutMs: settings.headersTimeoutMs,
      handOff: (socket) => {
        // Nothing of the fast path stays on a connection node:http took (a WebSocket may live long).
        this.forget(socket);
        http.emit('connection', socket);
      },
    };
    // Half-open: a client that sends its request and then FIN still gets the answer.
    this.server = createTcpServer({ noDelay: true, allowHalfOpen: true }, (socket: FastSocket) => {
      onAccept?.(socket);
      this.sockets.add(socket);
      socket[kListener] = this;
      socket.on('close', onFastClose);
      new FastConnection(socket, circuitOf, options);
    });
  }

  forget(socket: FastSocket): void {
    this.sockets.delete(socket);
    socket.off('close', onFastClose);
    socket[kListener] = undefined;
  }

  /** Stops listening; the fast path's connections are destroyed (node:http's by the caller). */
  close(): void {
    this.server.close();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}
