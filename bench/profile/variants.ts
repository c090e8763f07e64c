/**
 * Minimal proxies to compare upstream clients under the same frontend (node:http server):
 *   dispatch — undici Pool.dispatch with a handler object per request (what the worker uses)
 *   agent    — node:http.request with a keep-alive Agent, response piped
 *   request  — undici Pool.request (promise + body stream)
 * Usage: node bench/profile/variants.ts <dispatch|agent|request> <upstreamPort>
 */
import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { type Dispatcher, Pool } from 'undici';

const kind = process.argv[2];
const upstreamPort = Number(process.argv[3]);
const pool = new Pool(`http://127.0.0.1:${upstreamPort}`);
const agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });

function headersOf(req: IncomingMessage): Record<string, string | string[]> {
  const h: Record<string, string | string[]> = {};
  for (const k in req.headers) if (k !== 'connection') h[k] = req.headers[k]!;
  return h;
}

class H implements Dispatcher.DispatchHandler {
  constructor(private readonly res: ServerResponse) {}
  onRequestStart() {}
  onResponseStart(
    _c: Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | string[] | undefined>,
  ) {
    const flat: string[] = [];
    for (const k in headers) {
      const v = headers[k];
      if (k === 'connection' || k === 'keep-alive' || v === undefined) continue;
      if (Array.isArray(v)) for (const x of v) flat.push(k, x);
      else flat.push(k, v);
    }
    this.res.writeHead(status, flat);
  }
  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer) {
    this.res.write(chunk);
  }
  onResponseEnd() {
    this.res.end();
  }
  onResponseError(_c: unknown, e: Error) {
    console.error(e);
    this.res.destroy();
  }
}

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  if (kind === 'dispatch') {
    pool.dispatch({ path: req.url!, method: 'GET', headers: headersOf(req), body: null }, new H(res));
  } else if (kind === 'agent') {
    const up = request({
      host: '127.0.0.1',
      port: upstreamPort,
      path: req.url,
      method: req.method,
      headers: headersOf(req),
      agent,
      setHost: false,
    });
    up.on('response', (r) => {
      const flat: string[] = [];
      for (let i = 0; i < r.rawHeaders.length; i += 2) {
        const k = r.rawHeaders[i]!.toLowerCase();
        if (k !== 'connection' && k !== 'keep-alive') flat.push(k, r.rawHeaders[i + 1]!);
      }
      res.writeHead(r.statusCode!, flat);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    up.end();
  } else {
    pool.request({ path: req.url!, method: 'GET', headers: headersOf(req) }).then(
      (r) => {
        res.writeHead(r.statusCode, r.headers as Record<string, string>);
        r.body.on('data', (c: Buffer) => res.write(c));
        r.body.on('end', () => res.end());
      },
      () => res.destroy(),
    );
  }
});
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  const port = (server.address() as { port: number }).port;
  console.log(JSON.stringify({ ready: true, pid: process.pid, port }));
});
process.on('SIGTERM', () => process.exit(0));
