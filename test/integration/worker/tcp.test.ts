/**
 * Raw TCP circuits (`allow-list`, `public`) on a port-mode worker that serves tcp: relaying with
 * half-close, client-address allow-lists, the connection limit, the per-connection idle timeout,
 * circuit close and route updates, a vanished client, activity and one access record per
 * connection. Real sockets on 127.0.0.1 throughout; timing assertions are only "not before the
 * idle timeout" and "within it plus a generous margin".
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { counterKeys } from '../../../src/contracts/activity.ts';
import type { CloseReason } from '../../../src/contracts/records.ts';
import type { AccessRecord } from '../../../src/worker/observe/access-log.ts';
import {
  LARGE_READ,
  RelayReader,
  SMALL_READ,
  type TcpRelay,
} from '../../../src/worker/transport/tcp-relay.ts';
import { until } from '../../support/poll.ts';
import {
  addTcpRoute,
  type Route,
  startTcpBackend,
  startTcpWorker,
  type TcpBackend,
  type TcpWorker,
  type WorkerHarness,
} from './harness.ts';

/** Node's socket timers start from the event loop's cached clock, which may lag by a few ms. */
const TIMER_SLACK_MS = 25;
const MARGIN_MS = 2500;

let tcp: TcpWorker;
let h: WorkerHarness;
let access: AccessRecord[];
let echo: TcpBackend;
let atEof: TcpBackend;

before(async () => {
  tcp = await startTcpWorker();
  ({ h, access, echo, atEof } = tcp);
});
after(() => tcp?.close());

function dial(route: Route): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port: route.port, host: '127.0.0.1' });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Reads until `n` bytes arrived. */
function read(s: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= n) {
        s.off('data', onData);
        s.off('close', onClose);
        resolve(Buffer.concat(chunks));
      }
    };
    const onClose = () => reject(new Error(`closed after ${got} of ${n} bytes`));
    s.on('data', onData);
    s.once('close', onClose);
  });
}

/** Everything until the peer's FIN. */
function readToEnd(s: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  return once(s, 'end').then(() => Buffer.concat(chunks));
}

/** Resolves with Date.now() when the socket closes. */
function closedAt(s: Socket): Promise<number> {
  if (s.destroyed) return Promise.resolve(Date.now());
  return new Promise((resolve) => s.once('close', () => resolve(Date.now())));
}

async function recordOf(circuitId: string, reason?: CloseReason): Promise<AccessRecord> {
  return until(
    () => access.find((r) => r.circuitId === circuitId && (reason === undefined || r.reason === reason)),
    `access record of ${circuitId}${reason ? ` (${reason})` : ''}`,
    { timeoutMs: 5000 },
  );
}

async function openConnections(): Promise<number> {
  const m = h.registry.getSingleMetric('appproxy_worker_open_connections');
  return (await m!.get()).values[0]?.value ?? 0;
}

const fds = () => readdirSync('/proc/self/fd').length;

describe('allow-list and public', () => {
  test('allow-list: a listed client is relayed both ways; one access record when it ends', async () => {
    const route = await addTcpRoute(h, {
      backendPort: echo.port,
      access: 'allow-list',
      allowFrom: ['127.0.0.1/32'],
    });
    const s = await dial(route);
    s.write('hello');
    assert.equal((await read(s, 5)).toString(), 'hello');
    s.end();
    await closedAt(s);
    const r = await recordOf(route.spec.id);
    assert.equal(r.kind, 'tcp');
    assert.equal(r.access, 'allow-list');
    assert.equal(r.reason, 'client-closed');
    assert.equal(r.userId, route.spec.ownerId);
    assert.equal(r.sessionId, route.spec.sessionId);
    assert.match(r.client, /^127\.0\.0\.1:\d+$/);
    assert.equal(r.bytesIn, 5);
    assert.equal(r.bytesOut, 5);
    // A second connection, closed after the first: once its record is out, a second record of the
    // first connection would have been too.
    const second = await dial(route);
    second.end();
    await closedAt(second);
    await until(
      () => access.filter((x) => x.circuitId === route.spec.id && x.client !== r.client).length === 1,
      'the record of the second connection',
      { timeoutMs: 5000 },
    );
    assert.equal(
      access.filter((x) => x.circuitId === route.spec.id && x.client === r.client).length,
      1,
      'exactly one record',
    );
    await h.deleteRoute(route);
  });

  test('allow-list: an unlisted client is closed at once, without a byte, and recorded as refused-ip', async () => {
    const route = await addTcpRoute(h, {
      backendPort: echo.port,
      access: 'allow-list',
      allowFrom: ['10.0.0.0/8', 'fd00::/8'],
    });
    const s = await dial(route);
    let got = 0;
    s.on('data', (c: Buffer) => (got += c.length));
    s.on('error', () => {});
    s.write('let me in');
    const t0 = Date.now();
    const t = await closedAt(s);
    assert.ok(t - t0 < MARGIN_MS, 'closed at once');
    assert.equal(got, 0);
    const r = await recordOf(route.spec.id);
    assert.equal(r.reason, 'refused-ip');
    assert.equal(r.bytesIn + r.bytesOut, 0);
    assert.equal(echo.sockets.size, 0, 'the backend was never dialled');
    await h.deleteRoute(route);
  });

  test('public: anyone is relayed', async () => {
    const route = await addTcpRoute(h, { backendPort: echo.port, access: 'public' });
    const s = await dial(route);
    const payload = Buffer.alloc(256 * 1024, 7);
    s.write(payload);
    assert.ok((await read(s, payload.length)).equals(payload));
    s.destroy();
    assert.equal((await recordOf(route.spec.id)).access, 'public');
    await h.deleteRoute(route);
  });

  test('a tcp circuit with tunnel access answers raw bytes with an HTTP error, not the backend', async () => {
    const route = await addTcpRoute(h, { backendPort: echo.port, access: 'tunnel' });
    const s = await dial(route);
    s.end(`GET / HTTP/1.1\r\nHost: ${route.host}\r\nAccept: application/json\r\n\r\n`);
    const answer = (await readToEnd(s)).toString();
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /AP_ERR_BAD_REQUEST/);
    assert.match(answer, /tunnel/);
    await h.deleteRoute(route);
  });
});

describe('half-close', () => {
  test("the client's FIN reaches the backend, which answers after EOF", async () => {
    const route = await addTcpRoute(h, { backendPort: atEof.port, access: 'public' });
    const s = await dial(route);
    const payload = Buffer.alloc(100_000, 3);
    s.end(payload);
    const answer = (await readToEnd(s)).toString();
    assert.equal(answer, `got ${payload.length} bytes ${createHash('sha256').update(payload).digest('hex')}`);
    await closedAt(s);
    const r = await recordOf(route.spec.id);
    assert.equal(r.reason, 'client-closed');
    assert.equal(r.bytesIn, payload.length);
    assert.equal(r.bytesOut, answer.length);
    await h.deleteRoute(route);
  });
});

describe('limits and timeouts', () => {
  test('over maxConnections a connection is closed at once with reason limit', async () => {
    const route = await addTcpRoute(h, { backendPort: echo.port, access: 'public', maxConnections: 2 });
    const a = await dial(route);
    const b = await dial(route);
    a.write('a');
    b.write('b');
    await Promise.all([read(a, 1), read(b, 1)]);
    const c = await dial(route);
    c.on('error', () => {});
    c.write('c');
    await closedAt(c);
    assert.equal((await recordOf(route.spec.id, 'limit')).bytesIn, 0);
    a.destroy();
    await recordOf(route.spec.id, 'client-closed');
    const d = await dial(route);
    d.write('d');
    assert.equal((await read(d, 1)).toString(), 'd', 'a freed place is taken again');
    b.destroy();
    d.destroy();
    await h.deleteRoute(route);
  });

  test('an idle connection is closed after idleTimeoutMs, not before', async () => {
    const idle = 500;
    const route = await addTcpRoute(h, { backendPort: echo.port, access: 'public', idleTimeoutMs: idle });
    const s = await dial(route);
    const t0 = Date.now(); // before the last byte moves: the worker's clock starts later
    s.write('x');
    await read(s, 1);
    const t = await closedAt(s);
    assert.ok(t - t0 >= idle - TIMER_SLACK_MS, `closed after ${t - t0} ms, before the idle timeout`);
    assert.ok(t - t0 < idle + MARGIN_MS, `closed after ${t - t0} ms`);
    const r = await recordOf(route.spec.id);
    assert.equal(r.reason, 'idle-timeout');
    await h.deleteRoute(route);
  });

  test('a steady slow stream (a byte every 100 ms) is not idle', async () => {
    const route = await addTcpRoute(h, { backendPort: echo.port, access: 'public', idleTimeoutMs: 500 });
    const s = await dial(route);
    let echoed = 0;
    s.on('data', (c: Buffer) => (echoed += c.length));
    for (let i = 0; i < 15; i++) {
      s.write('.');
      // The pace is the scenario: a byte every 100 ms, a fifth of the idle timeout, for three timeouts.
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(!s.destroyed && !s.readableEnded, `closed after ${i * 100} ms of steady traffic`);
    }
    await until(() => echoed === 15, 'every byte echoed', { timeoutMs: 5000 });
    assert.equal(access.filter((r) => r.circuitId === route.spec.id).length, 0);
    s.end();
    assert.equal((await recordOf(route.spec.id)).reason, 'client-closed');
    await h.deleteRoute(route);
  });

  test('an unreachable backend ends the connection with backend-unreachable', async () => {
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const deadPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const route = await addTcpRoute(h, { backendPort: deadPort, access: 'public' });
    const s = await dial(route);
    s.on('error', () => {});
    await closedAt(s);
    assert.equal((await recordOf(route.spec.id)).reason, 'backend-unreachable');
    await h.deleteRoute(route);
  });
});

describe('circuit changes', () => {
  test('closing the circuit closes its live connections with circuit-closed', async () => {
    const route = await addTcpRoute(h, { backendPort: echo.port, access: 'public' });
    const s = await dial(route);
    s.on('error', () => {});
    s.write('x');
    await read(s, 1);
    const closed = closedAt(s);
    await h.deleteRoute(route);
    await closed;
    assert.equal((await recordOf(route.spec.id)).reason, 'circuit-closed');
    await assert.rejects(dial(route), 'the port is closed');
  });

  test('a route update keeps admitted connections and revokes the others', async () => {
    const route = await addTcpRoute(h, {
      backendPort: echo.port,
      access: 'allow-list',
      allowFrom: ['127.0.0.0/8'],
    });
    const s = await dial(route);
    s.on('error', () => {});
    s.write('1');
    await read(s, 1);
    // Same circuit, a new idle timeout and a wider list: the connection carries on.
    await h.putRoute({
      ...route.spec,
      tcp: { ...route.spec.tcp!, allowFrom: ['127.0.0.1', '10.0.0.0/8'] },
      idleTimeoutMs: 60_000,
    });
    s.write('2');
    assert.equal((await read(s, 1)).toString(), '2');
    assert.equal(access.filter((r) => r.circuitId === route.spec.id).length, 0);
    // The client's address leaves the list: the connection is cut.
    const closed = closedAt(s);
    await h.putRoute({ ...route.spec, tcp: { ...route.spec.tcp!, allowFrom: ['10.0.0.0/8'] } });
    await closed;
    const r = await recordOf(route.spec.id);
    assert.equal(r.reason, 'revoked');
    assert.equal(r.bytesIn, 2);
    await h.deleteRoute(route);
  });
});

describe('reading into reused buffers', () => {
  test('a buffer is reused while the peer takes every write at once, replaced while a write is pending; it grows when a read fills it and shrinks when reads are small', () => {
    const written: Buffer[] = [];
    const peer = {
      writableLength: 0,
      accept: true,
      write(b: Buffer) {
        written.push(Buffer.from(b));
        return this.accept;
      },
    };
    const reader = new RelayReader({ backend: peer } as unknown as TcpRelay, true);
    const b1 = reader.buffer();
    assert.equal(b1.length, SMALL_READ);
    b1.write('hello');
    assert.equal(reader.callback(5, b1), true);
    assert.equal(written.at(-1)!.toString(), 'hello', 'exactly the bytes read are written');
    assert.equal(reader.buffer(), b1, 'reused: the write completed at once');
    peer.writableLength = 5; // the kernel took only part: the peer still holds the chunk
    peer.accept = false;
    assert.equal(reader.callback(5, b1), false, "the peer's backpressure pauses the reader");
    const b2 = reader.buffer();
    assert.notEqual(b2, b1, 'a chunk still being written is never overwritten');
    peer.writableLength = 0;
    peer.accept = true;
    reader.callback(SMALL_READ, b2);
    const b3 = reader.buffer();
    assert.equal(b3.length, LARGE_READ, 'a read that fills the buffer: a large one');
    reader.callback(LARGE_READ / 2, b3);
    assert.equal(reader.buffer(), b3, 'a mid-size read keeps the large buffer');
    reader.callback(10, b3);
    assert.equal(reader.buffer().length, SMALL_READ, 'small reads: back to a small buffer');
  });

  test('relayed chunks are read into reused buffers, and arrive intact both ways under backpressure', async () => {
    const route = await addTcpRoute(h, { backendPort: echo.port, access: 'public' });
    const payload = (await import('node:crypto')).randomBytes(8 * 1024 * 1024);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    // Fast: the client reads the echo as it comes.
    const before = { ...RelayReader.stats };
    let s = await dial(route);
    s.end(payload.subarray(0, 4 * 1024 * 1024));
    let got = await readToEnd(s);
    assert.equal(sha(got), sha(payload.subarray(0, 4 * 1024 * 1024)));
    const reads = RelayReader.stats.reads - before.reads;
    const buffers = RelayReader.stats.buffers - before.buffers;
    assert.ok(reads >= 64, `${reads} relayed reads`);
    assert.ok(buffers * 4 <= reads, `${buffers} read buffers for ${reads} reads`);
    // Slow: the client reads nothing until every kernel buffer on the way is full, then reads
    // with pauses, so the relay's writes stay pending in both directions (a reader that reused a
    // buffer still being written would corrupt the stream).
    s = await dial(route);
    const chunks: Buffer[] = [];
    s.pause();
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      s.pause();
      setTimeout(() => s.resume(), 1);
    });
    const ended = once(s, 'end');
    s.end(payload);
    // Not reading for a while is the scenario (the buffers fill meanwhile); no event tells "full".
    await new Promise((r) => setTimeout(r, 300));
    s.resume();
    await ended;
    got = Buffer.concat(chunks);
    assert.equal(got.length, payload.length);
    assert.equal(sha(got), sha(payload));
    await h.deleteRoute(route);
  });
});

describe('resources and activity', () => {
  test('a vanished client (never reads, never sends FIN) is cleaned up; counts and fds return to baseline', async () => {
    const flood = await startTcpBackend('flood');
    const route = await addTcpRoute(h, { backendPort: flood.port, access: 'public', idleTimeoutMs: 500 });
    const baseOpen = await openConnections();
    const baseFds = fds();
    const s = await dial(route);
    s.on('error', () => {});
    s.pause(); // the client's process stopped reading; its kernel buffers fill, then nothing moves
    await until(async () => (await openConnections()) === baseOpen + 1, 'the worker holds the connection', {
      timeoutMs: 5000,
    });
    const r = await recordOf(route.spec.id);
    assert.equal(r.reason, 'idle-timeout');
    assert.ok(r.bytesOut > 0, 'the backend did send');
    await until(async () => (await openConnections()) === baseOpen, 'open connections back to baseline', {
      timeoutMs: 10_000,
    });
    await until(() => flood.sockets.size === 0, 'backend connection closed', { timeoutMs: 10_000 });
    // Only the test's own (still open, never reading) client socket is left.
    await until(() => fds() <= baseFds + 1, `fds back to baseline ${baseFds} + 1 (now ${fds()})`, {
      timeoutMs: 10_000,
    });
    s.destroy();
    await h.deleteRoute(route);
    await flood.close();
  });

  test('bytes both ways reach the counters store like HTTP activity', async () => {
    const route = await addTcpRoute(h, { backendPort: echo.port, access: 'public' });
    const id = route.spec.id;
    const t0 = Date.now();
    const s = await dial(route);
    const payload = Buffer.alloc(20_000, 9);
    s.write(payload);
    await read(s, payload.length);
    await h.bytesFlushed(id, payload.length);
    assert.equal(await h.counter(counterKeys.requests(id)), 1, 'one connection, one request');
    assert.ok((await h.counter(counterKeys.lastClientAt(id))) >= t0);
    assert.ok((await h.counter(counterKeys.lastBackendAt(id))) >= t0);
    const reporter = (await h.counters.keys(`ap:act:${id}:open:`))[0]!;
    await until(async () => (await h.counters.get(reporter)) === '1', 'one open connection reported', {
      timeoutMs: 5000,
    });
    s.destroy();
    await until(async () => (await h.counters.get(reporter)) === '0', 'no open connection reported', {
      timeoutMs: 5000,
    });
    await h.deleteRoute(route);
  });
});
