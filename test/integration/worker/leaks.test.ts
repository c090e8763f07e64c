/**
 * Resource leaks on the unhappy paths: clients that go away mid-request or mid-body, an upstream
 * that stops (HTTP and WebSocket), half-open and silent client sockets. The worker, the upstream
 * and the clients all live in this process, so its open fd count must come back to the baseline
 * once the clients are gone (pooled keep-alive sockets expire within seconds). Bounded counts, no
 * timing assertions (only deadlines for "eventually").
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { until } from '../../support/poll.ts';
import { startUpstream } from '../../support/upstream.ts';
import { type Route, WorkerHarness } from './harness.ts';

const TOLERANCE = 8;
const fds = () => readdirSync('/proc/self/fd').length;

let h: WorkerHarness;
let route: Route;
let cookie: string;
let baseline: number;

async function settled(what: string): Promise<void> {
  let last = 0;
  await until(
    () => {
      last = fds();
      return last <= baseline + TOLERANCE;
    },
    `${what}: fds back to baseline ${baseline} (now ${fds()})`,
    { timeoutMs: 20_000 },
  ).catch((err: Error) => assert.fail(`${err.message}; last ${last}`));
}

/** Runs `n` jobs, `width` at a time. */
async function inBatches(n: number, width: number, job: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < n; i += width) {
    await Promise.all(Array.from({ length: Math.min(width, n - i) }, (_, j) => job(i + j)));
  }
}

/** A request whose client socket is destroyed after `afterMs` or after the first body bytes. */
function abortedRequest(r: Route, path: string, afterMs: number): Promise<void> {
  return new Promise((resolve) => {
    const req = request({
      host: '127.0.0.1',
      port: r.port,
      path,
      headers: { host: r.host, cookie },
      agent: false,
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.on('response', (res) => res.once('data', () => req.destroy()));
    setTimeout(() => req.destroy(), afterMs);
    req.end();
  });
}

function rawSocket(r: Route, send: string, halfClose: boolean): Promise<Socket> {
  return new Promise((resolve) => {
    const s = connect(r.port, '127.0.0.1', () => {
      if (send) s.write(send);
      if (halfClose) s.end();
      resolve(s);
    });
    s.on('error', () => resolve(s));
  });
}

before(async () => {
  h = await WorkerHarness.start({ mode: 'port' });
  route = await h.addRoute();
  cookie = await h.login(route);
  // Warm up: module-level lazies, the pool's first sockets. The pause lets the warm-up's own client
  // sockets close; had some not, the baseline would only be higher (the checks laxer, by at most 10).
  await inBatches(20, 10, () => h.request(route, { cookie }));
  await new Promise((r) => setTimeout(r, 100));
  baseline = fds();
});

after(async () => {
  await h.close();
});

test('clients that go away before headers and mid-body leave nothing behind', async () => {
  await inBatches(1000, 100, (i) =>
    abortedRequest(route, i % 2 ? '/slow-headers?ms=2000' : '/download?bytes=20000000', 30),
  );
  await settled('aborted clients');
});

test('a stopped upstream leaves nothing behind (HTTP and WebSocket)', async () => {
  const up = await startUpstream();
  const r = await h.addRoute({ backends: [{ host: '127.0.0.1', port: up.port }] });
  const c = await h.login(r);
  // Live keep-alive traffic and open WebSockets, then the upstream stops.
  await inBatches(200, 50, () => h.request(r, { cookie: c }));
  const sockets = await Promise.all(
    Array.from({ length: 50 }, () =>
      rawSocket(
        r,
        `GET /ws HTTP/1.1\r\nhost: ${r.host}\r\nupgrade: websocket\r\nconnection: Upgrade\r\n` +
          `sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\ncookie: ${c}\r\n\r\n`,
        false,
      ),
    ),
  );
  // Stop the upstream while those upgrades are in flight or just done: either is a path to cover.
  await new Promise((res) => setTimeout(res, 200));
  await up.close();
  // Requests against the stopped upstream: answered 502.
  const statuses = new Set<number>();
  await inBatches(500, 50, async () => statuses.add((await h.request(r, { cookie: c })).status));
  assert.deepEqual(statuses, new Set([502]));
  for (const s of sockets) s.destroy();
  await h.deleteRoute(r);
  await settled('stopped upstream');
});

test('half-open and silent client sockets leave nothing behind', async () => {
  const sockets: Socket[] = [];
  await inBatches(1500, 100, async (i) => {
    const kind = i % 3;
    const s = await rawSocket(
      route,
      kind === 0
        ? `GET / HTTP/1.1\r\nhost: ${route.host}\r\ncookie: ${cookie}\r\n\r\n` // full request, then FIN
        : kind === 1
          ? `GET / HTTP/1.1\r\nhost: ${route.host}\r\n` // partial head, then FIN
          : '', // nothing, then FIN
      true,
    );
    s.resume();
    sockets.push(s);
  });
  // The clients keep their side open (half-open from the worker's point of view) until the
  // worker closes; then they are destroyed here.
  // How long they stay half-open is the scenario; the fd check below polls with a deadline.
  await new Promise((r) => setTimeout(r, 300));
  for (const s of sockets) s.destroy();
  await settled('half-open sockets');
});
