/**
 * Idle timeout, keepalive pings and access records of proxied WebSockets, on real sockets: the
 * worker, a `ws` echo upstream (the harness's, or a slow one here that writes its frames in
 * pieces) and `ws` or raw-socket clients. Timeouts are short (300–1500 ms); timing assertions
 * are "not before the timeout" and "within the timeout plus a generous margin" only.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import WebSocket, { WebSocketServer } from 'ws';
import { counterKeys } from '../../../src/contracts/activity.ts';
import type { AccessRecord } from '../../../src/worker/observe/access-log.ts';
import { PING_FRAME } from '../../../src/worker/transport/ws-frames.ts';
import { until } from '../../support/poll.ts';
import { frame } from '../../support/ws-frame.ts';
import { OWNER, type Route, WorkerHarness } from './harness.ts';

const MARGIN_MS = 1500;
/** Without the feature a close never comes: fail instead of hanging. */
const LIMIT = { timeout: 15_000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A `ws` echo upstream that writes each echo as raw frames, in pieces with pauses between. */
async function startSlowEcho(pauseMs: number) {
  const wss = new WebSocketServer({ noServer: true });
  const server = createServer();
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      let chain = Promise.resolve();
      ws.on('message', (data: Buffer, isBinary) => {
        const text = isBinary ? '' : data.toString();
        if (text === 'close-me') return void ws.close(1000, 'bye');
        if (text === 'stall') return void socket.pause(); // reads nothing more: the worker backs up
        if (text.startsWith('flood:')) {
          for (let i = 0; i < Number(text.slice(6)); i++) ws.send(Buffer.alloc(65536, i));
          return;
        }
        chain = chain.then(() => writeSlowly(socket as Socket, data, isBinary));
      });
    });
  });
  /**
   * Echo in fragments (3 over 100 kB, 2 from 2 bytes), written in pieces cut inside each header
   * and payload, so frame ends fall inside pieces, not at their edges.
   */
  async function writeSlowly(socket: Socket, data: Buffer, isBinary: boolean): Promise<void> {
    const n = data.length > 100_000 ? 3 : data.length >= 2 ? 2 : 1;
    const step = Math.ceil(data.length / n);
    const frames: Buffer[] = [];
    const cuts: number[] = [];
    let start = 0;
    for (let k = 0; k < n; k++) {
      const payload = data.subarray(k * step, (k + 1) * step);
      const f = frame(k === 0 ? (isBinary ? 2 : 1) : 0, payload, { fin: k === n - 1 });
      const hdr = f.length - payload.length;
      cuts.push(start + 1, start + hdr - 1, start + hdr + (payload.length >> 1));
      frames.push(f);
      start += f.length;
    }
    const bytes = Buffer.concat(frames);
    let at = 0;
    for (const c of [...cuts, bytes.length]) {
      if (c <= at) continue;
      if (socket.destroyed) return;
      socket.write(bytes.subarray(at, c));
      at = c;
      await sleep(pauseMs); // the pause between pieces is what this upstream is for
    }
  }
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('proxied WebSockets: idle timeout, pings, access records', () => {
  let h: WorkerHarness;
  let slow: Awaited<ReturnType<typeof startSlowEcho>>;
  const records: AccessRecord[] = [];
  // The worker's access log goes to this logger: one JSON line per ended connection.
  const logger = pino(
    { level: 'info' },
    {
      write(line: string) {
        const o = JSON.parse(line) as { access?: AccessRecord };
        if (o.access) records.push(o.access);
      },
    },
  );
  const recordOf = (r: Route, timeoutMs = 5000) =>
    until(() => records.find((x) => x.circuitId === r.spec.id), `access record of ${r.spec.id}`, {
      timeoutMs: timeoutMs,
    });

  before(async () => {
    h = await WorkerHarness.start({ mode: 'port', worker: { logger } });
    slow = await startSlowEcho(40);
  });
  after(async () => {
    await slow.close();
    await h.close();
  });

  async function open(r: Route, cookie: string): Promise<WebSocket> {
    const ws = new WebSocket(`ws://127.0.0.1:${r.port}/ws`, { headers: { host: r.host, cookie } });
    await once(ws, 'open');
    return ws;
  }

  /** A WebSocket client by hand: the handshake, then whatever the test does with the socket. */
  async function rawWebSocket(r: Route, cookie: string): Promise<Socket> {
    const s = connect(r.port, '127.0.0.1');
    s.write(
      `GET /ws HTTP/1.1\r\nhost: ${r.host}\r\nupgrade: websocket\r\nconnection: Upgrade\r\n` +
        `sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\ncookie: ${cookie}\r\n\r\n`,
    );
    const [head] = (await once(s, 'data')) as [Buffer];
    assert.match(head.toString('latin1'), /^HTTP\/1\.1 101/);
    return s;
  }

  async function route(o: Parameters<WorkerHarness['addRoute']>[0]) {
    const r = await h.addRoute(o);
    return { r, cookie: await h.login(r) };
  }

  test(
    'an idle WebSocket is closed at idleTimeoutMs with reason idle-timeout, not before',
    LIMIT,
    async () => {
      const { r, cookie } = await route({ idleTimeoutMs: 600 });
      const ws = await open(r, cookie);
      const localPort = (ws as unknown as { _socket: Socket })._socket.localPort;
      const sentAt = Date.now();
      ws.send('hello');
      assert.equal(String((await once(ws, 'message'))[0]), 'hello');
      const [code, reason] = await once(ws, 'close');
      const idleFor = Date.now() - sentAt;
      assert.equal(code, 1001);
      assert.equal(String(reason), 'idle-timeout');
      assert.ok(idleFor >= 600, `closed after ${idleFor} ms`);
      assert.ok(idleFor < 600 + MARGIN_MS, `closed after ${idleFor} ms`);
      const rec = await recordOf(r);
      assert.deepEqual(
        { ...rec, durationMs: 0 },
        {
          kind: 'websocket',
          access: 'cookie',
          circuitId: r.spec.id,
          sessionId: r.spec.sessionId,
          userId: OWNER,
          client: `127.0.0.1:${localPort}`,
          bytesIn: 2 + 4 + 5, // one masked 5-byte text frame
          bytesOut: 2 + 5,
          durationMs: 0,
          reason: 'idle-timeout',
        },
      );
      assert.ok(rec.durationMs >= 600);
    },
  );

  test('a data message every 150 ms keeps a WebSocket open past its timeout', LIMIT, async () => {
    const { r, cookie } = await route({ idleTimeoutMs: 600 });
    const ws = await open(r, cookie);
    let echoes = 0;
    ws.on('message', () => echoes++);
    for (let i = 0; i < 14; i++) {
      ws.send(`m${i}`);
      // The pace is the scenario: a message every 150 ms, a quarter of the idle timeout.
      await sleep(150);
    }
    assert.equal(ws.readyState, WebSocket.OPEN);
    await until(() => echoes === 14, '14 echoes', { timeoutMs: 5000 });
    assert.equal(
      records.find((x) => x.circuitId === r.spec.id),
      undefined,
    );
    ws.close(1000);
    await once(ws, 'close');
    assert.equal((await recordOf(r)).reason, 'client-closed');
  });

  test(
    'pings answered but no data: still closed by idle-timeout (pings are not activity)',
    LIMIT,
    async () => {
      const { r, cookie } = await route({ idleTimeoutMs: 600 });
      const start = Date.now();
      const ws = await open(r, cookie);
      let pings = 0;
      ws.on('ping', () => pings++); // ws answers each with a pong by itself
      const [code, reason] = await once(ws, 'close');
      const lived = Date.now() - start;
      assert.equal(code, 1001);
      assert.equal(String(reason), 'idle-timeout');
      assert.ok(pings >= 1, `${pings} pings`);
      assert.ok(lived >= 600 && lived < 600 + MARGIN_MS, `closed after ${lived} ms`);
      assert.equal((await recordOf(r)).reason, 'idle-timeout');
    },
  );

  test('a client that stops answering is closed as peer-unresponsive', LIMIT, async () => {
    const { r, cookie } = await route({ idleTimeoutMs: 1500 }); // pings every 500 ms
    const s = await rawWebSocket(r, cookie);
    s.pause(); // from here on it reads nothing and answers nothing
    const rec = await recordOf(r);
    assert.equal(rec.reason, 'peer-unresponsive');
    // What the worker wrote meanwhile: its ping(s), then the end.
    const rest: Buffer[] = [];
    s.on('data', (d: Buffer) => rest.push(d));
    s.on('error', () => {});
    s.resume();
    await once(s, 'close');
    const got = Buffer.concat(rest);
    assert.ok(got.length >= PING_FRAME.length && got.subarray(0, PING_FRAME.length).equals(PING_FRAME));
  });

  test('pings, pongs and close frames do not advance circuit activity', LIMIT, async () => {
    const { r, cookie } = await route({ idleTimeoutMs: 900 }); // pings every 300 ms
    const ws = await open(r, cookie);
    let pings = 0;
    ws.on('ping', () => pings++);
    const keys = [
      counterKeys.bytesIn(r.spec.id),
      counterKeys.bytesOut(r.spec.id),
      counterKeys.lastClientAt(r.spec.id),
      counterKeys.lastBackendAt(r.spec.id),
    ];
    // The handshake is activity: all of it is flushed once two passes completed after it.
    await until(async () => (await h.counters.mget(keys))[0] !== null, 'handshake activity flushed', {
      timeoutMs: 5000,
    });
    await h.flushPasses(2);
    const snapshot = await h.counters.mget(keys);
    ws.ping('client ping'); // the client's own pings (and the backend's pongs) are control frames too
    ws.ping();
    const [code] = await once(ws, 'close');
    assert.equal(code, 1001);
    assert.ok(pings >= 1, `${pings} pings`);
    assert.equal((await recordOf(r)).reason, 'idle-timeout');
    await h.flushPasses(2); // the last sample (taken at socket close) is written by then
    assert.deepEqual(await h.counters.mget(keys), snapshot);
  });

  test('messages of every size echo intact both ways with pings injected mid-stream', LIMIT, async () => {
    // Idle timeout 300 ms: pings every 100 ms of client silence; the slow upstream writes each
    // echo frame in pieces 40 ms apart, so pings fall due in the middle of frames and headers.
    const { r, cookie } = await route({
      idleTimeoutMs: 300,
      backends: [{ host: '127.0.0.1', port: slow.port }],
    });
    const ws = await open(r, cookie);
    let pings = 0;
    ws.on('ping', () => pings++);
    const sizes = [0, 1, 125, 126, 65535, 65536, 1 << 20];
    for (const size of sizes) {
      const msg = randomBytes(size);
      ws.send(msg);
      const [echo, isBinary] = await once(ws, 'message');
      assert.ok(isBinary);
      assert.ok(msg.equals(echo as Buffer), `${size} bytes`);
    }
    // Fragmented both ways: the client sends 3 fragments, the upstream echoes 3 others.
    const big = randomBytes(300_000);
    ws.send(big.subarray(0, 100_000), { fin: false });
    ws.send(big.subarray(100_000, 200_000), { fin: false });
    ws.send(big.subarray(200_000), { fin: true });
    assert.ok(big.equals((await once(ws, 'message'))[0] as Buffer), 'fragmented');
    ws.send('héllo, wörld');
    assert.equal(String((await once(ws, 'message'))[0]), 'héllo, wörld');
    assert.ok(pings >= 2, `${pings} pings`);
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.close(1000);
    await once(ws, 'close');
    const rec = await recordOf(r);
    assert.equal(rec.reason, 'client-closed');
    const sent = sizes.reduce((n, s) => n + s, 0) + big.length;
    assert.ok(rec.bytesIn > sent && rec.bytesOut > sent, JSON.stringify(rec));
  });

  test("a client that is slow to read the backend's output is not taken for dead", LIMIT, async () => {
    // Pings every 200 ms; the client never answers them, but it keeps reading, slowly: as long
    // as the kernel keeps taking the worker's output, the pong timeout is extended.
    const { r, cookie } = await route({
      idleTimeoutMs: 600,
      backends: [{ host: '127.0.0.1', port: slow.port }],
    });
    const s = await rawWebSocket(r, cookie);
    s.on('error', () => {});
    s.pause();
    const flood = 128; // × 64 KiB messages = 8 MiB
    s.write(frame(1, Buffer.from(`flood:${flood}`), { mask: true }));
    const start = Date.now();
    // At most one socket buffer (64 KiB) every 10 ms: a few MiB/s, seconds for the whole flood.
    let got = 0;
    const reader = setInterval(() => {
      const d = s.read() as Buffer | null;
      if (d !== null) got += d.length;
    }, 10);
    try {
      const rec = await recordOf(r, 14_000);
      const took = Date.now() - start;
      assert.equal(rec.reason, 'peer-unresponsive'); // in the end: it never answered a ping
      assert.ok(rec.bytesOut >= flood * 65536, `${rec.bytesOut} bytes relayed in ${took} ms`);
      await until(() => got >= flood * 65536, 'every byte read', { timeoutMs: 5000 });
    } finally {
      clearInterval(reader);
      s.destroy();
    }
  });

  test('a client the relay stopped reading (slow backend) is not taken for dead', LIMIT, async () => {
    // Pings every 500 ms. The backend stops reading, the worker stops reading the client: the
    // client's silence is the backend's fault, so only the idle timeout may close it.
    const { r, cookie } = await route({
      idleTimeoutMs: 1500,
      backends: [{ host: '127.0.0.1', port: slow.port }],
    });
    const ws = await open(r, cookie);
    ws.on('error', () => {});
    ws.send('stall');
    await sleep(50); // orders the two sends at the backend: 'stall' first, then the flood it will not read
    ws.send(randomBytes(32 << 20)); // more than the sockets between here and the backend hold
    const rec = await recordOf(r, 10_000);
    assert.equal(rec.reason, 'idle-timeout');
    ws.terminate();
  });

  test(
    'the backend closing, and the circuit closing, are told apart in the access record',
    LIMIT,
    async () => {
      const a = await route({ backends: [{ host: '127.0.0.1', port: slow.port }] });
      const ws = await open(a.r, a.cookie);
      ws.send('close-me');
      const [code] = await once(ws, 'close');
      assert.equal(code, 1000);
      assert.equal((await recordOf(a.r)).reason, 'backend-closed');

      const b = await route({});
      const ws2 = await open(b.r, b.cookie);
      ws2.on('error', () => {});
      const closed = once(ws2, 'close');
      await h.deleteRoute(b.r);
      await closed;
      assert.equal((await recordOf(b.r)).reason, 'circuit-closed');
    },
  );
});
