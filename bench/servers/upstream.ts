/**
 * The benchmark upstream, in its own process, kept as cheap as possible so that it is not what a
 * proxy's numbers measure:
 * - HTTP port: a canned 100-byte 200 answer per request head, from a raw socket (keep-alive). A
 *   connection whose first request asks for an Upgrade is handed to `ws`, which echoes every
 *   WebSocket message.
 * - TCP port: the first byte picks the mode: `S` sink (counts bytes until FIN, answers the count as
 *   8 bytes, ends), `D` + 8-byte length: source (sends that many bytes, ends), `E`: echo.
 * Prints one JSON line `{ready, pid, http, tcp}`; stdin takes JSON lines `{cmd: 'stop-http'}` and
 * `{cmd: 'start-http'}` (the leak check's stopped upstream).
 */
import type { IncomingMessage } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { WebSocketServer } from 'ws';

const BODY = 'x'.repeat(99) + '\n';
const RESPONSE = Buffer.from(
  `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`,
);
const CRLF2 = Buffer.from('\r\n\r\n');
const UPGRADE = /\r\nupgrade:/i;
const PGRADE = Buffer.from('pgrade:');
const EMPTY = Buffer.alloc(0);

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

/**
 * Hands an upgrade request, already read from the raw socket, to `ws`. The head is parsed here
 * rather than re-fed to node:http (unshifting bytes into a socket that node:http then consumes
 * natively is not reliable: the parser can miss the upgrade and answer it as a plain request).
 */
function upgrade(socket: Socket, head: string, rest: Buffer): void {
  const [requestLine, ...lines] = head.split('\r\n');
  const [method = 'GET', url = '/'] = (requestLine ?? '').split(' ');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const req = { method, url, headers } as unknown as IncomingMessage;
  wss.handleUpgrade(req, socket, rest, (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => {});
  });
}

const live = new Set<Socket>();

/**
 * Answers every complete request head on the socket with the canned response. Any request may
 * ask for an upgrade, not only a connection's first: proxies with upstream keep-alive (nginx,
 * configurable-http-proxy) send a WebSocket handshake over a connection that carried plain
 * requests before.
 */
function onHttpConnection(socket: Socket): void {
  socket.setNoDelay(true);
  live.add(socket);
  socket.on('close', () => live.delete(socket));
  socket.on('error', () => {});
  let buf: Buffer = EMPTY;
  const answer = (n: number) => {
    if (n === 1) socket.write(RESPONSE);
    else if (n > 1) socket.write(Buffer.concat(Array.from({ length: n }, () => RESPONSE)));
  };
  const onData = (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    let start = 0;
    let n = 0;
    for (;;) {
      const end = buf.indexOf(CRLF2, start);
      if (end < 0) break;
      // 'pgrade:' matches "Upgrade:" in any case of its first letter; only such heads are decoded.
      const u = buf.indexOf(PGRADE, start);
      if (u >= 0 && u < end && UPGRADE.test(buf.subarray(start, end).toString('latin1'))) {
        answer(n);
        socket.off('data', onData);
        upgrade(socket, buf.subarray(start, end).toString('latin1'), buf.subarray(end + 4));
        return;
      }
      n++;
      start = end + 4;
    }
    answer(n);
    buf = start < buf.length ? Buffer.from(buf.subarray(start)) : EMPTY;
  };
  socket.on('data', onData);
}

const BLOCK = Buffer.alloc(256 * 1024, 7);

function onTcpConnection(socket: Socket): void {
  socket.setNoDelay(true);
  socket.on('error', () => {});
  let mode = '';
  let count = 0;
  let header = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    if (!mode) {
      mode = String.fromCharCode(chunk[0]!);
      chunk = chunk.subarray(1);
    }
    if (mode === 'S') count += chunk.length;
    else if (mode === 'E') socket.write(chunk);
    else if (mode === 'D' && header.length < 8) {
      header = Buffer.concat([header, chunk]);
      if (header.length >= 8) source(socket, Number(header.readBigUInt64BE(0)));
    }
  });
  socket.on('end', () => {
    if (mode === 'S') {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(BigInt(count));
      socket.end(b);
    } else socket.end();
  });
}

function source(socket: Socket, total: number): void {
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      const n = Math.min(BLOCK.length, total - sent);
      sent += n;
      if (!socket.write(n === BLOCK.length ? BLOCK : BLOCK.subarray(0, n))) {
        socket.once('drain', pump);
        return;
      }
    }
    socket.end();
  };
  pump();
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

let http = createServer({ noDelay: true }, onHttpConnection);
const tcp = createServer({ noDelay: true, allowHalfOpen: true }, onTcpConnection);
const httpPort = await listen(http, Number(process.env.UPSTREAM_HTTP_PORT ?? 0));
const tcpPort = await listen(tcp, 0);

createInterface({ input: process.stdin }).on('line', async (line) => {
  const m = JSON.parse(line) as { cmd: string };
  if (m.cmd === 'stop-http') {
    http.close();
    for (const s of live) s.destroy();
    for (const c of wss.clients) c.terminate();
    console.log(JSON.stringify({ stopped: true }));
  } else if (m.cmd === 'start-http') {
    http = createServer({ noDelay: true }, onHttpConnection);
    await listen(http, httpPort);
    console.log(JSON.stringify({ started: true }));
  }
});
process.stdin.on('end', () => process.exit(0));
console.log(JSON.stringify({ ready: true, pid: process.pid, http: httpPort, tcp: tcpPort }));
