/**
 * Profiling upstream: node:http answering every request with a fixed 100-byte body, plus a
 * WebSocket echo (`ws`) on upgrade. Usage: node bench/profile/upstream.ts [port]
 * Prints {ready, pid, port}.
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const BODY = Buffer.alloc(100, 'x');
const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
    res.end(BODY);
  });
});
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
server.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
});
server.listen({ port: Number(process.argv[2] ?? 0), host: '127.0.0.1', backlog: 4096 }, () => {
  const port = (server.address() as { port: number }).port;
  console.log(JSON.stringify({ ready: true, pid: process.pid, port }));
});
process.on('SIGTERM', () => process.exit(0));
