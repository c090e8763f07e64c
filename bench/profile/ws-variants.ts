/**
 * Minimal WebSocket relays (node:http upgrade → http.request upstream → two linked sockets) that
 * differ in how the linked sockets read, to find what a relayed chunk costs:
 *   data     'data' events, write/pause/resume (how the worker relayed)
 *   onread   both sockets re-wrapped to read into reused buffers (`onread`)
 * Usage: node bench/profile/ws-variants.ts <variant> <upstreamHttpPort>; prints {ready, pid, port}.
 */
import { createServer, type IncomingMessage, request } from 'node:http';
import type { Socket } from 'node:net';
import { ignore, kPeer, onClose, onData, onDrain, Reader, rewrap, type S } from './relay-kit.ts';

const variant = process.argv[2] ?? 'data';
const upstreamPort = Number(process.argv[3]);

const server = createServer();
server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
  const up = request({
    host: '127.0.0.1',
    port: upstreamPort,
    path: req.url,
    headers: req.headers,
    agent: false,
  });
  up.on('upgrade', (res: IncomingMessage, upSocket: Socket, upHead: Buffer) => {
    let h = `HTTP/1.1 101 Switching Protocols\r\n`;
    for (let i = 0; i < res.rawHeaders.length; i += 2)
      h += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
    let a = socket as S;
    let b = upSocket as S;
    if (variant === 'onread') {
      const ra = new Reader();
      const rb = new Reader();
      a = rewrap(socket, ra);
      b = rewrap(upSocket, rb);
      ra.peer = b;
      rb.peer = a;
    }
    a.write(`${h}\r\n`);
    if (upHead.length) a.write(upHead);
    if (head.length) b.write(head);
    a[kPeer] = b;
    b[kPeer] = a;
    for (const s of [a, b]) {
      s.setNoDelay(true);
      if (variant !== 'onread') s.on('data', onData);
      s.on('drain', onDrain);
      s.on('close', onClose);
      s.on('error', ignore);
      s.resume();
    }
  });
  up.on('error', () => socket.destroy());
  up.end();
});
server.listen(0, '127.0.0.1', () => {
  console.log(
    JSON.stringify({ ready: true, pid: process.pid, port: (server.address() as { port: number }).port }),
  );
});
process.on('SIGTERM', () => process.exit(0));
