/**
 * Tunnels of TCP circuits in `tunnel` mode: `/_appproxy/tunnel` on the circuit's port, a WebSocket
 * (subprotocol appproxy-tunnel.v1) admitted with a single-use tunnel token, carrying one TCP
 * connection to the backend. Real `ws` clients, real minted tokens, real sockets; timing
 * assertions are only "not before the idle timeout" and "within it plus a generous margin".
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { counterKeys } from '../../../src/contracts/activity.ts';
import type { CloseReason } from '../../../src/contracts/records.ts';
import type { AccessRecord } from '../../../src/worker/observe/access-log.ts';
import { until } from '../../support/poll.ts';
import {
  addTcpRoute,
  expiredTunnelToken,
  type Route,
  startTcpWorker,
  type TcpBackend,
  type TcpWorker,
  tunnelToken,
  type WorkerHarness,
} from './harness.ts';

const SUBPROTOCOL = 'appproxy-tunnel.v1';
const PING_MS = 100;
/** Node's socket timers start from the event loop's cached clock, which may lag by a few ms. */
const TIMER_SLACK_MS = 25;
const MARGIN_MS = 2500;

let tcp: TcpWorker;
let h: WorkerHarness;
let access: AccessRecord[];
let echo: TcpBackend;
let atEof: TcpBackend;

before(async () => {
  tcp = await startTcpWorker({ tunnelPingIntervalMs: PING_MS });
  ({ h, access, echo, atEof } = tcp);
});
after(() => tcp?.close());

type Refusal = { status: number; body: { code: string; message: string } };

/** Opens a tunnel; resolves with the open socket, or with the HTTP refusal. */
function open(
  route: Route,
  token: string | null,
  o: { protocol?: string | null; autoPong?: boolean } = {},
): Promise<WebSocket | Refusal> {
  return new Promise((resolve, reject) => {
    const protocol = o.protocol === undefined ? SUBPROTOCOL : o.protocol;
    const ws = new WebSocket(`ws://127.0.0.1:${route.port}/_appproxy/tunnel`, protocol ?? [], {
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
      autoPong: o.autoPong ?? true,
      perMessageDeflate: false,
    });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString()) }),
      );
    });
    ws.once('error', reject);
  });
}

async function tunnel(route: Route, o: { userId?: string; autoPong?: boolean } = {}): Promise<WebSocket> {
  const r = await open(route, await tunnelToken(h, route, { userId: o.userId }), { autoPong: o.autoPong });
  if (!(r instanceof WebSocket)) throw new Error(`tunnel refused: ${JSON.stringify(r)}`);
  return r;
}

async function refused(
  route: Route,
  token: string | null,
  o?: { protocol?: string | null },
): Promise<Refusal> {
  const r = await open(route, token, o);
  if (r instanceof WebSocket) {
    r.terminate();
    throw new Error('the tunnel was admitted');
  }
  return r;
}

/** Collects binary messages until the peer's `eof`; resolves with the bytes. */
function readToEof(ws: WebSocket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) chunks.push(data);
      else if (data.toString() === 'eof') resolve(Buffer.concat(chunks));
      else reject(new Error(`unexpected text ${data.toString()}`));
    });
    ws.once('close', () => reject(new Error('closed before eof')));
  });
}

function read(ws: WebSocket, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onMessage = (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return;
      chunks.push(data);
      got += data.length;
      if (got >= n) {
        ws.off('message', onMessage);
        resolve(Buffer.concat(chunks));
      }
    };
    ws.on('message', onMessage);
  });
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string; at: number }> {
  return new Promise((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString(), at: Date.now() })),
  );
}

async function recordOf(circuitId: string, reason?: CloseReason): Promise<AccessRecord> {
  return until(
    () => access.find((r) => r.circuitId === circuitId && (reason === undefined || r.reason === reason)),
    `access record of ${circuitId}${reason ? ` (${reason})` : ''}`,
    { timeoutMs: 5000 },
  );
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('carrying a TCP connection', () => {
  test("bytes go both ways; the record carries the token's user", async () => {
    const route = await addTcpRoute(h, { backendPort: echo.port });
    const ws = await tunnel(route, { userId: 'user-tunnel' });
    assert.equal(ws.protocol, SUBPROTOCOL);
    ws.send(Buffer.from('hello'));
    assert.equal((await read(ws, 5)).toString(), 'hello');
    const done = closed(ws);
    ws.send('eof');
    const { code, reason } = await done;
    assert.equal(code, 1000);
    assert.equal(reason, 'client-closed');
    const r = await recordOf(route.spec.id);
    assert.equal(r.kind, 'tunnel');
    assert.equal(r.access, 'tunnel');
    assert.equal(r.userId, 'user-tunnel');
    assert.equal(r.reason, 'client-closed');
    assert.equal(r.bytesIn, 5);
    assert.equal(r.bytesOut, 5);
    assert.match(r.client, /^127\.0\.0\.1:\d+$/);
    await h.deleteRoute(route);
  });

  test('a 1 MiB payload round-trips intact', async () => {
    const route = await addTcpRoute(h, { backendPort: echo.port });
    const ws = await tunnel(route);
    const payload = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE((i * 2654435761) >>> 0, i);
    const back = readToEof(ws);
    for (let i = 0; i < payload.length; i += 64 * 1024) ws.send(payload.subarray(i, i + 64 * 1024));
    ws.send('eof');
    const got = await back;
    assert.equal(got.length, payload.length);
    assert.equal(sha(got), sha(payload));
    assert.equal((await closed(ws)).code, 1000);
    const r = await recordOf(route.spec.id);
    assert.equal(r.bytesIn, payload.length);
    assert.equal(r.bytesOut, payload.length);
    await h.deleteRoute(route);
  });

  test('half-close: the client sends, then eof; the backend answers after seeing EOF', async () => {
    const route = await addTcpRoute(h, { backendPort: atEof.port });
    const ws = await tunnel(route);
    const payload = Buffer.alloc(300_000, 5);
    const answer = readToEof(ws);
    const done = closed(ws);
    ws.send(payload.subarray(0, 100_000));
    ws.send(payload.subarray(100_000));
    ws.send('eof');
    assert.equal((await answer).toString(), `got ${payload.length} bytes ${sha(payload)}`);
    const c = await done;
    assert.equal(c.code, 1000);
    assert.equal(c.reason, 'client-closed');
    await h.deleteRoute(route);
  });
});

describe('admission', () => {
  let route: Route;
  before(async () => {
    route = await addTcpRoute(h, { backendPort: echo.port });
  });

  test('no token, a token of another circuit, an expired one and a setup token are refused', async () => {
    const other = await addTcpRoute(h, { backendPort: echo.port });
    const cases: [string | null, string][] = [
      [null, 'AP_ERR_TUNNEL_TOKEN_INVALID'],
      ['not-a-jwt', 'AP_ERR_TUNNEL_TOKEN_INVALID'],
      [await tunnelToken(h, other), 'AP_ERR_TUNNEL_TOKEN_INVALID'],
      [await expiredTunnelToken(h, route), 'AP_ERR_TUNNEL_TOKEN_EXPIRED'],
      [await tunnelToken(h, route, { purpose: 'setup' }), 'AP_ERR_TUNNEL_TOKEN_INVALID'],
    ];
    for (const [token, code] of cases) {
      const r = await refused(route, token);
      assert.equal(r.status, 401, code);
      assert.equal(r.body.code, code);
    }
    await h.deleteRoute(other);
    assert.equal(echo.sockets.size, 0, 'no refused tunnel reached the backend');
  });

  test('a token opens one tunnel only', async () => {
    const token = await tunnelToken(h, route);
    const first = await open(route, token);
    assert.ok(first instanceof WebSocket);
    const r = await refused(route, token);
    assert.equal(r.status, 401);
    assert.equal(r.body.code, 'AP_ERR_TUNNEL_TOKEN_USED');
    first.close();
  });

  test('the subprotocol is required', async () => {
    const r = await refused(route, await tunnelToken(h, route), { protocol: null });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /appproxy-tunnel\.v1/);
  });

  test('an http circuit has no tunnel (409); a tunnel port serves nothing else (400)', async () => {
    const web = await h.addRoute();
    const r = await refused(web, await tunnelToken(h, web));
    assert.equal(r.status, 409);
    assert.equal(r.body.code, 'AP_ERR_TUNNEL_NOT_AVAILABLE');
    const plain = await h.request(web, {
      path: '/_appproxy/tunnel',
      headers: { accept: 'application/json' },
    });
    assert.equal(plain.status, 409);
    await h.deleteRoute(web);
    for (const path of ['/', '/_appproxy/tunnel', '/_appproxy/setup?token=x']) {
      const res = await h.request(route, { path, headers: { accept: 'application/json' } });
      assert.equal(res.status, 400, path);
      assert.equal(JSON.parse(res.body.toString()).code, 'AP_ERR_BAD_REQUEST');
    }
  });

  test('over maxConnections: 503 AP_ERR_CONNECTION_LIMIT, and the token stays usable', async () => {
    const limited = await addTcpRoute(h, { backendPort: echo.port, maxConnections: 1 });
    const first = await tunnel(limited);
    const token = await tunnelToken(h, limited);
    const r = await refused(limited, token);
    assert.equal(r.status, 503);
    assert.equal(r.body.code, 'AP_ERR_CONNECTION_LIMIT');
    assert.equal((await recordOf(limited.spec.id, 'limit')).kind, 'tunnel');
    first.close();
    await recordOf(limited.spec.id, 'client-closed');
    const again = await open(limited, token);
    assert.ok(again instanceof WebSocket, 'the refused token opens a tunnel once there is room');
    again.close();
    await h.deleteRoute(limited);
  });
});

describe('ending', () => {
  test('an idle tunnel is closed with 4408 idle-timeout after idleTimeoutMs (pings do not count), not before', async () => {
    const idle = 500; // five worker pings fit in it
    const route = await addTcpRoute(h, { backendPort: echo.port, idleTimeoutMs: idle });
    const ws = await tunnel(route);
    const done = closed(ws);
    const t0 = Date.now();
    ws.send(Buffer.from('x'));
    await read(ws, 1);
    const c = await done;
    assert.equal(c.code, 4408);
    assert.equal(c.reason, 'idle-timeout');
    assert.ok(c.at - t0 >= idle - TIMER_SLACK_MS, `closed after ${c.at - t0} ms, before the idle timeout`);
    assert.ok(c.at - t0 < idle + MARGIN_MS, `closed after ${c.at - t0} ms`);
    assert.equal((await recordOf(route.spec.id)).reason, 'idle-timeout');
    // The worker's close frame is not activity: the circuit's idle clock still reads the echo.
    await h.flushPasses(2); // whatever the close moved is written by then
    const lastBackend = Number(await h.counters.get(counterKeys.lastBackendAt(route.spec.id)));
    assert.ok(
      lastBackend < c.at - idle / 2,
      `last backend byte at +${lastBackend - t0} ms, close at +${c.at - t0} ms`,
    );
    await h.deleteRoute(route);
  });

  test('a steady slow stream (a message every 100 ms) is not idle', async () => {
    const route = await addTcpRoute(h, { backendPort: echo.port, idleTimeoutMs: 500 });
    const ws = await tunnel(route);
    let echoed = 0;
    ws.on('message', (d: Buffer, isBinary: boolean) => {
      if (isBinary) echoed += d.length;
    });
    for (let i = 0; i < 15; i++) {
      ws.send(Buffer.from('.'));
      // The pace is the scenario: a byte every 100 ms, a fifth of the idle timeout, for three timeouts.
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(ws.readyState, WebSocket.OPEN, `closed after ${i * 100} ms of steady traffic`);
    }
    await until(() => echoed === 15, 'every byte echoed', { timeoutMs: 5000 });
    ws.close();
    assert.equal((await recordOf(route.spec.id)).reason, 'client-closed');
    await h.deleteRoute(route);
  });

  test('a client that stops answering pings is cut (peer-unresponsive)', async () => {
    const route = await addTcpRoute(h, { backendPort: echo.port });
    const ws = await tunnel(route, { autoPong: false });
    const t0 = Date.now();
    const c = await closed(ws);
    assert.ok(c.at - t0 < 2 * PING_MS + MARGIN_MS);
    assert.equal((await recordOf(route.spec.id)).reason, 'peer-unresponsive');
    await h.deleteRoute(route);
  });

  test('closing the circuit closes its tunnels with 4410 circuit-closed', async () => {
    const route = await addTcpRoute(h, { backendPort: echo.port });
    const ws = await tunnel(route);
    ws.send(Buffer.from('x'));
    await read(ws, 1);
    const done = closed(ws);
    await h.deleteRoute(route);
    const c = await done;
    assert.equal(c.code, 4410);
    assert.equal(c.reason, 'circuit-closed');
    assert.equal((await recordOf(route.spec.id)).reason, 'circuit-closed');
  });

  test('a route update that leaves tunnel mode revokes live tunnels (4403)', async () => {
    const route = await addTcpRoute(h, { backendPort: echo.port });
    const ws = await tunnel(route);
    const done = closed(ws);
    await h.putRoute({ ...route.spec, idleTimeoutMs: 60_000 }); // still a tunnel circuit: kept
    ws.send(Buffer.from('y'));
    assert.equal((await read(ws, 1)).toString(), 'y');
    await h.putRoute({
      ...route.spec,
      tcp: { access: 'allow-list', allowFrom: ['127.0.0.1'], maxConnections: 4 },
    });
    const c = await done;
    assert.equal(c.code, 4403);
    assert.equal(c.reason, 'revoked');
    assert.equal((await recordOf(route.spec.id)).reason, 'revoked');
    await h.deleteRoute(route);
  });

  test('an unreachable backend closes the tunnel with 4502 backend-unreachable', async () => {
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const deadPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const route = await addTcpRoute(h, { backendPort: deadPort });
    const ws = await tunnel(route);
    const c = await closed(ws);
    assert.equal(c.code, 4502);
    assert.equal(c.reason, 'backend-unreachable');
    assert.equal((await recordOf(route.spec.id)).reason, 'backend-unreachable');
    await h.deleteRoute(route);
  });
});

describe('activity', () => {
  test('tunnel bytes reach the counters store; pings and pongs do not', async () => {
    const route = await addTcpRoute(h, { backendPort: echo.port });
    const id = route.spec.id;
    const t0 = Date.now();
    const ws = await tunnel(route);
    const payload = Buffer.alloc(50_000, 1);
    ws.send(payload);
    await read(ws, payload.length);
    await h.bytesFlushed(id, payload.length);
    assert.equal(await h.counter(counterKeys.requests(id)), 1);
    assert.ok((await h.counter(counterKeys.lastClientAt(id))) >= t0);
    // Everything of that exchange is flushed once two passes completed after its last byte (the
    // first may have started before it).
    await h.flushPasses(2);
    const before = [await h.counter(counterKeys.bytesIn(id)), await h.counter(counterKeys.bytesOut(id))];
    const lastClient = await h.counter(counterKeys.lastClientAt(id));
    // Several ping/pong rounds and no data; then two more passes, which would carry any delta of them.
    let pings = 0;
    ws.on('ping', () => pings++);
    await until(() => pings >= 5, 'five worker pings', { timeoutMs: 20 * PING_MS + MARGIN_MS });
    await h.flushPasses(2);
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.deepEqual(
      [await h.counter(counterKeys.bytesIn(id)), await h.counter(counterKeys.bytesOut(id))],
      before,
    );
    assert.equal(await h.counter(counterKeys.lastClientAt(id)), lastClient);
    ws.close();
    await h.deleteRoute(route);
  });
});
