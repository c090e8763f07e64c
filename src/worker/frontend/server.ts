/**
 * The `node:http` server both frontends use: no total request timeout (uploads and long polls
 * may take as long as they move bytes), a bound on slow headers, and parser errors (ambiguous
 * framing such as Content-Length with Transfer-Encoding, bad chunking) answered with
 * `AP_ERR_BAD_REQUEST` in the registry envelope.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Server as NetServer } from 'node:net';
import type { Duplex } from 'node:stream';
import { writeSocketError } from '../observe/error-pages.ts';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;
export type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

const HEADERS_TIMEOUT_MS = 60_000;

function onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  writeSocketError(
    socket,
    err.code === 'HPE_HEADER_OVERFLOW' ? 'AP_ERR_HEADERS_TOO_LARGE' : 'AP_ERR_BAD_REQUEST',
    'application/json',
  );
}

export function createFrontendServer(onRequest: RequestListener, onUpgrade: UpgradeListener): Server {
  const server = createServer(
    {
      requestTimeout: 0,
      headersTimeout: HEADERS_TIMEOUT_MS,
      keepAliveTimeout: 5_000,
      requireHostHeader: true,
      noDelay: true,
    },
    onRequest,
  );
  // A client that half-closes after its request (FIN after the last byte, as `nc -N` and some
  // HTTP/1.0 tools do) must still get its answer; Node's default aborts the request instead.
  // With this flag Node answers, then ends the socket.
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  server.on('upgrade', onUpgrade);
  server.on('clientError', onClientError);
  return server;
}

/** Listens and resolves with the bound port, or rejects with the listen error (EADDRINUSE…). */
export function listen(server: NetServer, port: number, host: string, reusePort = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    // reusePort (processes > 1): every data-plane process binds the same port and the kernel
    // spreads connections among them; a port held by anything else still fails (EADDRINUSE).
    server.listen({ port, host, exclusive: true, reusePort });
  });
}

/** Stops listening at once (the port is free on return) and drops idle and active HTTP sockets. */
export function shutDown(server: Server): void {
  server.close();
  server.closeAllConnections();
}
