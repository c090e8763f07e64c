/**
 * One live-connection model: a proxied WebSocket, a tunnel and a raw TCP relay opened by the same
 * client write access records of one shape with one client-address form (the worker listens
 * dual-stack, so the kernel reports the IPv4 client as `::ffff:127.0.0.1`: every record must say
 * `127.0.0.1:<port>`), and `terminate(reason)` — through the worker's one registry — ends each with
 * that reason, as circuit close ends each with `circuit-closed`.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import type { CloseReason } from '../../../src/contracts/records.ts';
import type { AccessRecord } from '../../../src/worker/observe/access-log.ts';
import { until } from '../../support/poll.ts';
import {
  addTcpRoute,
  captureAccessLog,
  type Route,
  startTcpBackend,
  type TcpBackend,
  tunnelToken,
  WorkerHarness,
} from './harness.ts';

let h: WorkerHarness;
let access: AccessRecord[];
let echo: TcpBackend;

before(async () => {
  const log = captureAccessLog();
  access = log.access;
  h = await WorkerHarness.start({
    mode: 'port',
    worker: { bindHost: '::', protocols: ['http', 'tcp'], logger: log.logger, tunnelPingIntervalMs: 200 },
  });
  echo = await startTcpBackend('echo');
});
after(async () => {
  await h?.close();
  await echo?.close();
});

interface Opened {
  kind: AccessRecord['kind'];
  route: Route;
  /** Resolves with what the client saw when the worker ended it. */
  ended: Promise<{ code?: number; reason?: string }>;
}

async function openWebSocket(route: Route): Promise<Opened> {
  const cookie = await h.login(route);
  const ws = new WebSocket(`ws://127.0.0.1:${route.port}/ws`, { headers: { host: route.host, cookie } });
  await once(ws, 'open');
  ws.send('hello');
  await once(ws, 'message');
  const ended = once(ws, 'close').then(([code, reason]) => ({
    code: code as number,
    reason: String(reason),
  }));
  return { kind: 'websocket', route, ended };
}

async function openTunnel(route: Route): Promise<Opened> {
  const ws = new WebSocket(`ws://127.0.0.1:${route.port}/_appproxy/tunnel`, 'appproxy-tunnel.v1', {
    headers: { authorization: `Bearer ${await tunnelToken(h, route)}` },
  });
  await once(ws, 'open');
  ws.send(Buffer.from('hello'));
  await once(ws, 'message');
  const ended = once(ws, 'close').then(([code, reason]) => ({
    code: code as number,
    reason: String(reason),
  }));
  return { kind: 'tunnel', route, ended };
}

async function openTcp(route: Route): Promise<Opened> {
  const s: Socket = connect(route.port, '127.0.0.1');
  await once(s, 'connect');
  s.write('hello');
  await once(s, 'data');
  s.on('error', () => {});
  const ended = once(s, 'close').then(() => ({}));
  return { kind: 'tcp', route, ended };
}

/** The three kinds, each on its own circuit, from the same client. */
async function openAll(): Promise<Opened[]> {
  const web = await h.addRoute({ idleTimeoutMs: 60_000 });
  const tunnelled = await addTcpRoute(h, { backendPort: echo.port, access: 'tunnel' });
  const listed = await addTcpRoute(h, {
    backendPort: echo.port,
    access: 'allow-list',
    allowFrom: ['127.0.0.1'],
  });
  const opened = [await openWebSocket(web), await openTunnel(tunnelled), await openTcp(listed)];
  for (const o of opened)
    assert.equal(h.worker.connections.of(o.route.spec.id).length, 1, `${o.kind} registered`);
  return opened;
}

async function recordsOf(opened: Opened[]): Promise<AccessRecord[]> {
  const ids = opened.map((o) => o.route.spec.id);
  return until(
    () => {
      const got = ids.map((id) => access.find((r) => r.circuitId === id));
      return got.every(Boolean) ? (got as AccessRecord[]) : undefined;
    },
    'one access record per connection',
    { timeoutMs: 5000 },
  );
}

function assertOneShape(records: AccessRecord[], reason: CloseReason): void {
  const keys = Object.keys(records[0]!).sort();
  for (const r of records) {
    assert.deepEqual(Object.keys(r).sort(), keys, `${r.kind} record has the same fields`);
    assert.match(r.client, /^127\.0\.0\.1:\d+$/, `${r.kind} client address form`);
    assert.equal(r.reason, reason, `${r.kind} reason`);
    assert.ok(r.bytesIn >= 5 && r.bytesOut >= 5, `${r.kind} bytes ${r.bytesIn}/${r.bytesOut}`);
    assert.ok(r.durationMs >= 0);
  }
  assert.deepEqual(
    records.map((r) => r.kind),
    ['websocket', 'tunnel', 'tcp'],
  );
}

describe('one live-connection model', () => {
  test('terminate(reason) through the registry ends each kind with that reason; records share one shape', async () => {
    access.length = 0;
    const opened = await openAll();
    for (const o of opened) for (const c of h.worker.connections.of(o.route.spec.id)) c.terminate('revoked');
    const seen = await Promise.all(opened.map((o) => o.ended));
    assert.deepEqual(seen[0], { code: 1001, reason: 'revoked' }, 'WebSocket close frame');
    assert.deepEqual(seen[1], { code: 4403, reason: 'revoked' }, 'tunnel close frame');
    assertOneShape(await recordsOf(opened), 'revoked');
    for (const o of opened) assert.equal(h.worker.connections.of(o.route.spec.id).length, 0);
    for (const o of opened) await h.deleteRoute(o.route);
  });

  test('closing the circuits ends each kind with circuit-closed', async () => {
    access.length = 0;
    const opened = await openAll();
    for (const o of opened)
      await h.kv.delete(`/appproxy/v1/workers/${h.authority}/circuits/${o.route.spec.id}`);
    const seen = await Promise.all(opened.map((o) => o.ended));
    assert.deepEqual(seen[0], { code: 1001, reason: 'circuit-closed' });
    assert.deepEqual(seen[1], { code: 4410, reason: 'circuit-closed' });
    assertOneShape(await recordsOf(opened), 'circuit-closed');
    assert.equal(h.worker.connections.size, 0);
  });
});

describe('the registry', () => {
  test('indexes live connections by user too, and forgets them when they end', async () => {
    const opened = await openAll();
    assert.equal(
      h.worker.connections.ofUser('user-1').length,
      3,
      'the owner (cookie, raw) and the token subject',
    );
    assert.equal(h.worker.connections.ofUser('someone-else').length, 0);
    for (const c of h.worker.connections.ofUser('user-1')) c.terminate('revoked');
    await Promise.all(opened.map((o) => o.ended));
    await until(() => h.worker.connections.ofUser('user-1').length === 0, 'the user index emptied', {
      timeoutMs: 5000,
    });
    for (const o of opened) await h.deleteRoute(o.route);
  });
});
