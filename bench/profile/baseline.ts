/**
 * Baseline: the plainest fast Node proxy (node:http server + undici.Pool.dispatch-free
 * `pool.request`), no auth, no activity. Usage: node bench/profile/baseline.ts <upstreamPort>
 */
import { createServer } from 'node:http';
import { Pool } from 'undici';

const upstreamPort = Number(process.argv[2]);
const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 256 });
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const headers: Record<string, string | string[]> = {};
  for (const k in req.headers) if (!HOP.has(k)) headers[k] = req.headers[k]!;
  headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
  const hasBody =
    req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  pool.request({ path: req.url!, method: req.method as 'GET', headers, body: hasBody ? req : null }).then(
    (up) => {
      const out: Record<string, string | string[]> = {};
      for (const k in up.headers) if (!HOP.has(k)) out[k] = up.headers[k]!;
      res.writeHead(up.statusCode, out);
      up.body.on('data', (c: Buffer) => res.write(c));
      up.body.on('end', () => res.end());
      up.body.on('error', () => res.destroy());
    },
    () => {
      res.writeHead(502);
      res.end();
    },
  );
});
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  const port = (server.address() as { port: number }).port;
  console.log(JSON.stringify({ ready: true, pid: process.pid, port }));
});
process.on('SIGTERM', () => process.exit(0));
