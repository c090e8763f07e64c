/**
 * A real upstream app on 127.0.0.1: a page, a header echo, hop-by-hop headers, SSE, upload and
 * download (deterministic bytes both sides can hash), slow headers, and a WebSocket echo.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

/** Deterministic bytes for downloads: chunk i of a fixed random block, so both sides can hash it. */
const BLOCK = randomBytes(64 * 1024);
export function* pattern(total: number): Generator<Buffer> {
  for (let sent = 0; sent < total; sent += BLOCK.length)
    yield BLOCK.subarray(0, Math.min(BLOCK.length, total - sent));
}
export function patternSha256(total: number): string {
  const h = createHash('sha256');
  for (const c of pattern(total)) h.update(c);
  return h.digest('hex');
}

export interface Upstream {
  server: Server;
  port: number;
  /** Headers of the last request to /headers or of the last WebSocket handshake. */
  lastWsHeaders: IncomingMessage['headers'] | null;
  close(): Promise<void>;
}

export async function startUpstream(): Promise<Upstream> {
  const wss = new WebSocketServer({ noServer: true });
  const up: Upstream = {
    server: null as unknown as Server,
    port: 0,
    lastWsHeaders: null,
    close: async () => {},
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    switch (url.pathname) {
      case '/headers':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(req.headers));
        return;
      case '/hop':
        res.writeHead(200, {
          'content-type': 'text/plain',
          connection: 'keep-alive, x-secret-hop',
          'keep-alive': 'timeout=5',
          'x-secret-hop': 'leak',
          'proxy-authenticate': 'Basic',
          'set-cookie': ['a=1; Path=/', 'b=2; Path=/'],
        });
        res.end('hop');
        return;
      case '/sse': {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        let n = 0;
        const t = setInterval(() => {
          n++;
          res.write(`data: event ${n}\n\n`);
          if (n === 3) clearInterval(t); // then the stream stays open: events must not wait for its end
        }, 150);
        res.on('close', () => clearInterval(t));
        return;
      }
      case '/upload': {
        const h = createHash('sha256');
        let size = 0;
        req.on('data', (c: Buffer) => {
          size += c.length;
          h.update(c);
        });
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ size, sha256: h.digest('hex') }));
        });
        return;
      }
      case '/download': {
        const total = Number(url.searchParams.get('bytes') ?? '0');
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
        const it = pattern(total);
        const pump = () => {
          for (;;) {
            const next = it.next();
            if (next.done) return void res.end();
            if (!res.write(next.value)) return void res.once('drain', pump);
          }
        };
        pump();
        return;
      }
      case '/slow-headers': {
        const t = setTimeout(() => res.end('late'), Number(url.searchParams.get('ms') ?? '1000'));
        res.on('close', () => clearTimeout(t));
        return;
      }
      default:
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(`<h1>hello from ${url.pathname}</h1>`);
    }
  });
  server.on('upgrade', (req, socket, head) => {
    up.lastWsHeaders = req.headers;
    if (req.url === '/ws-refuse') {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 2\r\n\r\nno');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  up.server = server;
  up.port = (server.address() as AddressInfo).port;
  up.close = async () => {
    for (const c of wss.clients) c.terminate();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return up;
}
