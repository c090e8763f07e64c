/**
 * WebSocket load client (a raw RFC 6455 client, so that the client costs little CPU):
 *   echo <port> <host> <cookie|-> <conns> <seconds> [size]
 *     each connection sends one binary message and waits for its echo, again and again;
 *     prints {messages, seconds, rate, p50Ms, p99Ms, errors}
 *   idle <port> <host> <cookie|-> <n>
 *     opens n connections (200 at a time), prints {open}, holds them until stdin ends;
 *     prints {closed: k} each time connections close (the terminate check uses it).
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { Samples } from '../lib/stats.ts';

const [mode, portS, host, cookieArg, nS, secondsS, sizeS] = process.argv.slice(2);
const port = Number(portS);
const cookie = cookieArg && cookieArg !== '-' ? cookieArg : '';

function handshake(path = '/ws'): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
    (cookie ? `Cookie: ${cookie}\r\n` : '') +
    '\r\n'
  );
}

const HANDSHAKE_TIMEOUT_MS = 15_000;

/** Opens one WebSocket; resolves with the socket and any bytes after the 101 head. */
function open(localAddress?: string): Promise<{ socket: Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      port,
      host: '127.0.0.1',
      noDelay: true,
      ...(localAddress ? { localAddress } : {}),
    });
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.off('error', reject);
      socket.setTimeout(0);
      const status = buf.subarray(0, buf.indexOf('\r\n')).toString();
      if (!status.includes(' 101 ')) {
        socket.destroy();
        reject(new Error(`handshake: ${JSON.stringify(buf.subarray(0, end).toString('latin1'))}`));
        return;
      }
      resolve({ socket, rest: buf.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('connect', () => socket.write(handshake()));
    // A proxy that closes without answering (nginx at its connection limit does) or accepts and
    // never answers must not hold the run: either counts as a failed open.
    socket.once('close', () => reject(new Error('handshake: connection closed before the answer')));
    socket.setTimeout(HANDSHAKE_TIMEOUT_MS, () => {
      socket.destroy();
      reject(new Error(`handshake: no answer in ${HANDSHAKE_TIMEOUT_MS} ms`));
    });
  });
}

/** A masked binary frame (mask key 0: valid, and the payload needs no XOR). */
function frame(payload: Buffer): Buffer {
  const len = payload.length;
  const head =
    len < 126 ? Buffer.from([0x82, 0x80 | len]) : Buffer.from([0x82, 0x80 | 126, len >> 8, len & 0xff]);
  return Buffer.concat([head, Buffer.alloc(4), payload]);
}

/** Counts complete server frames in a stream (unmasked frames, lengths < 64 KiB). */
class FrameCounter {
  private buf: Buffer = Buffer.alloc(0);
  feed(d: Buffer): number {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    let n = 0;
    for (;;) {
      if (this.buf.length < 2) break;
      let len = this.buf[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) break;
        len = this.buf.readUInt16BE(2);
        off = 4;
      }
      if (this.buf.length < off + len) break;
      this.buf = this.buf.subarray(off + len);
      n++;
    }
    return n;
  }
}

const local = (i: number) => `127.0.0.${2 + (i % 200)}`;

async function echo(): Promise<void> {
  const conns = Number(nS);
  const seconds = Number(secondsS);
  const msg = frame(Buffer.alloc(Number(sizeS ?? 100), 0x61));
  const lat = new Samples();
  let messages = 0;
  let errors = 0;
  let running = true;
  // A failed handshake is retried (and reported): one bad connection must not void the run.
  const handshakeErrors: string[] = [];
  const openRetrying = async (i: number) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await open(local(i));
      } catch (err) {
        handshakeErrors.push(String(err));
        if (attempt >= 3) throw err;
      }
    }
  };
  const sockets = await Promise.all(Array.from({ length: conns }, (_, i) => openRetrying(i)));
  const t0 = performance.now();
  const done = sockets.map(
    ({ socket, rest }) =>
      new Promise<void>((resolve) => {
        const fc = new FrameCounter();
        let sent = 0;
        const send = () => {
          sent = performance.now();
          socket.write(msg);
        };
        const onData = (d: Buffer) => {
          if (fc.feed(d) > 0) {
            const now = performance.now();
            lat.add(now - sent);
            messages++;
            if (running) send();
            else resolve();
          }
        };
        socket.on('data', onData);
        socket.on('error', () => {
          errors++;
          resolve();
        });
        socket.on('close', () => resolve());
        if (rest.length) onData(rest);
        send();
      }),
  );
  await new Promise((r) => setTimeout(r, seconds * 1000));
  running = false;
  const t1 = performance.now();
  await Promise.race([Promise.all(done), new Promise((r) => setTimeout(r, 2000))]);
  for (const { socket } of sockets) socket.destroy();
  const secs = (t1 - t0) / 1000;
  console.log(
    JSON.stringify({
      messages,
      seconds: secs,
      rate: messages / secs,
      p50Ms: lat.p(50),
      p99Ms: lat.p(99),
      errors,
      handshakeErrors,
    }),
  );
}

async function idle(): Promise<void> {
  const n = Number(nS);
  const sockets: Socket[] = [];
  let closed = 0;
  let next = 0;
  let failed = 0;
  let failedInARow = 0;
  let firstError: string | undefined;
  // Opening stops after two minutes: a proxy that answers only some handshakes would otherwise
  // make the rest wait out their timeouts for many minutes; what did not open counts as failed.
  const deadline = Date.now() + 120_000;
  const worker = async () => {
    while (next < n) {
      if (Date.now() > deadline) {
        failed += n - next;
        next = n;
        break;
      }
      const i = next++;
      try {
        const { socket } = await open(local(i));
        socket.on('error', () => {});
        socket.on('close', () => {
          closed++;
          console.log(JSON.stringify({ closed, at: performance.timeOrigin + performance.now() }));
        });
        sockets.push(socket);
      } catch (err) {
        failed++;
        firstError ??= String(err);
        // A proxy that has stopped taking connections would make every remaining open wait out its
        // timeout: after 400 failures with no success in between, the rest count as failed.
        if (++failedInARow >= 400) {
          failed += n - next;
          next = n;
        }
        continue;
      }
      failedInARow = 0;
      if (sockets.length % 1000 === 0) console.log(JSON.stringify({ progress: sockets.length, of: n }));
    }
  };
  await Promise.all(Array.from({ length: 200 }, worker));
  console.log(JSON.stringify({ open: sockets.length, failed, firstError }));
  process.stdin.resume();
  process.stdin.on('end', () => {
    for (const s of sockets) s.destroy();
    process.exit(0);
  });
}

if (mode === 'echo') await echo();
else if (mode === 'idle') await idle();
else throw new Error(`unknown mode ${mode}`);
