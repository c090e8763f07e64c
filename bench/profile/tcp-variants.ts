/**
 * Minimal TCP relays that differ from a plain `pipe()` by one thing each, to find what a relay
 * costs per byte. Usage: node bench/profile/tcp-variants.ts <variant> <upstreamPort>
 *   pipe       client.pipe(up), up.pipe(client) (bench/servers/node-pipe.ts)
 *   handlers   module-level 'data'/'drain' handlers with write()/pause()/resume() (the worker's)
 *   timeout    handlers + client.setTimeout(30 min) (the idle clock)
 *   keepalive  handlers + TCP keepalive both sides
 *   all        handlers + timeout + keepalive
 *   onread     all, but the backend connection reads into a reused buffer (`onread`): no
 *              allocation per chunk from the backend
 *   onread2    onread on both sides: the accepted socket's handle is re-wrapped in a Socket
 *              that reads into a reused buffer (the server pauses accepted sockets)
 *   bloat      all, with 15 MB more live heap (like a full worker process)
 * Prints {ready, pid, port}.
 */
import { connect, createServer } from 'node:net';
import { ignore, kPeer, onClose, onData, onDrain, onEnd, Reader, rewrap, type S } from './relay-kit.ts';

const variant = process.argv[2] ?? 'pipe';
const upstreamPort = Number(process.argv[3]);

const full = variant === 'all' || variant === 'onread' || variant === 'onread2' || variant === 'bloat';
const both = variant === 'onread2';
const timeout = variant === 'timeout' || full;
const keepAlive = variant === 'keepalive' || full;
const ballast: unknown[] = [];
if (variant === 'bloat') for (let i = 0; i < 150_000; i++) ballast.push({ i, s: `x${i}`, a: [i, i + 1] });

const server = createServer(
  { noDelay: true, allowHalfOpen: true, keepAlive, pauseOnConnect: both },
  (socket) => {
    let client = socket as S;
    let clientReader: Reader | null = null;
    if (both) {
      clientReader = new Reader();
      client = rewrap(socket, clientReader);
    }
    const up = connect({
      port: upstreamPort,
      host: '127.0.0.1',
      noDelay: true,
      allowHalfOpen: true,
      keepAlive,
      ...(variant === 'onread' || both ? { onread: new Reader(client) } : {}),
    }) as S;
    if (clientReader) clientReader.peer = up;
    client.on('error', ignore);
    up.on('error', ignore);
    client.on('close', onClose);
    up.on('close', onClose);
    client[kPeer] = up;
    up[kPeer] = client;
    if (variant === 'pipe') {
      client.pipe(up);
      up.pipe(client);
      return;
    }
    if (timeout) {
      client.setTimeout(30 * 60_000);
      client.on('timeout', onClose);
    }
    for (const s of [client, up]) {
      s.on('data', onData);
      s.on('drain', onDrain);
      s.on('end', onEnd);
    }
  },
);
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  const port = (server.address() as { port: number }).port;
  console.log(JSON.stringify({ ready: true, pid: process.pid, port }));
});
process.on('SIGTERM', () => process.exit(0));
