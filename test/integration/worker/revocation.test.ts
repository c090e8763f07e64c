/**
 * Revocation on the data plane (real worker, embedded KV, real sockets): a record a manager puts
 * under `revocations/` refuses the credentials it matches on their next use and ends the live
 * connections opened under them — WebSockets authorized by an app cookie, tunnels opened with a
 * tunnel token, raw TCP relays of a circuit whose access was granted under it — with reason
 * `revoked`, while everything else goes on.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import type { Grant } from '../../../src/contracts/auth.ts';
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
  h = await WorkerHarness.start({ mode: 'port', worker: { protocols: ['http', 'tcp'], logger: log.logger } });
  echo = await startTcpBackend('echo');
});
after(async () => {
  await h?.close();
  await echo?.close();
});

const JSON_ACCEPT = { accept: 'application/json' };

async function codeOf(route: Route, cookie: string): Promise<string | number> {
  const res = await h.request(route, { cookie, headers: JSON_ACCEPT });
  return res.status === 200 ? 200 : (JSON.parse(res.body.toString()) as { code: string }).code;
}

/** An open WebSocket through the worker (the upstream echoes), and what it saw when it closed. */
async function openWs(
  route: Route,
  cookie: string,
): Promise<{ ws: WebSocket; closed: Promise<[number, string]> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${route.port}/ws`, { headers: { host: route.host, cookie } });
  await once(ws, 'open');
  const closed = once(ws, 'close').then(
    ([code, reason]) => [code as number, String(reason)] as [number, string],
  );
  return { ws, closed };
}

async function echoes(ws: WebSocket): Promise<void> {
  ws.send('still here');
  assert.equal(String((await once(ws, 'message'))[0]), 'still here');
}

async function recordOf(
  circuitId: string,
  kind: AccessRecord['kind'],
  reason?: CloseReason,
): Promise<AccessRecord> {
  return until(
    () =>
      access.find((r) => r.circuitId === circuitId && r.kind === kind && (!reason || r.reason === reason)),
    `${kind} access record of ${circuitId}${reason ? ` (${reason})` : ''}`,
    { timeoutMs: 5000 },
  );
}

type Opened = WebSocket | { status: number; code: string };

function openTunnel(route: Route, token: string): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${route.port}/_appproxy/tunnel`, 'appproxy-tunnel.v1', {
      headers: { authorization: `Bearer ${token}` },
    });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, code: JSON.parse(Buffer.concat(chunks).toString()).code }),
      );
    });
    ws.once('error', reject);
  });
}

async function openTcp(route: Route): Promise<{ socket: Socket; closed: Promise<unknown> }> {
  const socket = connect(route.port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write('hello');
  await once(socket, 'data');
  return { socket, closed: once(socket, 'close') };
}

async function metric(name: string, labels = ''): Promise<number> {
  const text = await h.registry.metrics();
  const m = new RegExp(`^${name}${labels.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('revocation reaches the data plane', () => {
  test('logout: the login session’s cookie is refused and its WebSockets closed; another user’s stay', async () => {
    const mine = await h.addRoute({ idleTimeoutMs: 60_000 });
    const theirs = await h.addRoute({ ownerId: 'user-2', idleTimeoutMs: 60_000 });
    const grant: Grant = { l: 'login-a' };
    const cookie = await h.login(mine, { grant });
    const otherCookie = await h.login(theirs, { grant: { l: 'login-b' } });
    assert.equal(await codeOf(mine, cookie), 200);
    const a = await openWs(mine, cookie);
    const b = await openWs(theirs, otherCookie);
    await echoes(a.ws);
    const cookiesRefused = await metric('appproxy_worker_revoked_total', '{what="cookie"}');

    await h.revoke({ kind: 'login-session', subject: 'login-a', reason: 'logout' });

    assert.deepEqual(await a.closed, [1001, 'revoked'], 'the WebSocket is closed with reason revoked');
    assert.equal((await recordOf(mine.spec.id, 'websocket')).reason, 'revoked');
    assert.equal(await codeOf(mine, cookie), 'AP_ERR_APP_COOKIE_REVOKED');
    const page = await h.request(mine, { cookie, headers: { accept: 'text/html' } });
    assert.equal(page.status, 401);
    // Another user, another login session: untouched.
    await echoes(b.ws);
    assert.equal(b.ws.readyState, WebSocket.OPEN);
    assert.equal(await codeOf(theirs, otherCookie), 200);
    // A WebSocket upgrade with the revoked cookie is refused too.
    const again = new WebSocket(`ws://127.0.0.1:${mine.port}/ws`, { headers: { host: mine.host, cookie } });
    again.on('error', () => {});
    const [, res] = await once(again, 'unexpected-response');
    assert.equal(res.statusCode, 401);
    again.terminate();
    // Counted: refused cookies, closed connections, records held, the lag observed.
    assert.ok((await metric('appproxy_worker_revoked_total', '{what="cookie"}')) >= cookiesRefused + 2);
    assert.ok((await metric('appproxy_worker_revoked_total', '{what="connection"}')) >= 1);
    assert.ok((await metric('appproxy_worker_revocations')) >= 1);
    assert.ok((await metric('appproxy_worker_revocation_lag_seconds_count')) >= 1);
    b.ws.close();
  });

  test('logout also cuts a response still streaming under the cookie (an event stream)', async () => {
    const route = await h.addRoute({ idleTimeoutMs: 60_000 });
    const cookie = await h.login(route, { grant: { l: 'login-stream' } });
    const other = await h.login(route, { grant: { l: 'login-stays' } });
    const open = (c: string) =>
      new Promise<IncomingMessage>((resolve, reject) => {
        const req = httpRequest({
          host: '127.0.0.1',
          port: route.port,
          path: '/sse',
          headers: { host: route.host, cookie: c },
        });
        req.on('error', reject);
        req.on('response', (res) => {
          res.on('error', () => {});
          resolve(res);
        });
        req.end();
      });
    const mine = await open(cookie);
    const theirs = await open(other);
    assert.equal(mine.statusCode, 200);
    await once(mine, 'data');
    await once(theirs, 'data');
    const ended = new Promise((r) => mine.once('close', r));
    await h.revoke({ kind: 'login-session', subject: 'login-stream', reason: 'logout' });
    await ended;
    // The worker has applied the record (the cookie is refused); the other sign-in's stream is open.
    await until(
      async () => ((await codeOf(route, cookie)) === 'AP_ERR_APP_COOKIE_REVOKED' ? true : undefined),
      'refusal',
      { timeoutMs: 5000 },
    );
    assert.equal(theirs.destroyed, false, "the other login session's stream goes on");
    assert.equal(await codeOf(route, other), 200);
    theirs.destroy();
  });

  test('a token record closes the tunnels and raw TCP relays granted under it and refuses new ones', async () => {
    const tunnelled = await addTcpRoute(h, { backendPort: echo.port, access: 'tunnel' });
    const granted = { grant: { t: 'token-a' }, grantedAt: Date.now() };
    const listed = await addTcpRoute(h, {
      backendPort: echo.port,
      access: 'allow-list',
      allowFrom: ['127.0.0.1'],
      ...granted,
    });
    const kept = await addTcpRoute(h, {
      backendPort: echo.port,
      access: 'allow-list',
      allowFrom: ['127.0.0.1'],
      grant: { t: 'token-b' },
      grantedAt: Date.now(),
    });
    const t = await openTunnel(tunnelled, await tunnelToken(h, tunnelled, { grant: { t: 'token-a' } }));
    assert.ok(t instanceof WebSocket);
    const tunnelClosed = once(t, 'close');
    const relay = await openTcp(listed);
    const other = await openTcp(kept);

    await h.revoke({ kind: 'token', subject: 'token-a', reason: 'token-revoked' });

    const [code, reason] = await tunnelClosed;
    assert.deepEqual([code, String(reason)], [4403, 'revoked']);
    await relay.closed;
    assert.equal((await recordOf(tunnelled.spec.id, 'tunnel')).reason, 'revoked');
    assert.equal((await recordOf(listed.spec.id, 'tcp')).reason, 'revoked');
    // The other grant's relay goes on.
    other.socket.write('ping');
    assert.equal(String((await once(other.socket, 'data'))[0]), 'ping');
    // New ones under the revoked grant are refused: a raw connection at once, a tunnel before the handshake.
    const before = access.filter((r) => r.circuitId === listed.spec.id).length;
    const late = connect(listed.port, '127.0.0.1');
    late.on('error', () => {});
    await once(late, 'close');
    await until(
      () => access.filter((r) => r.circuitId === listed.spec.id).length > before,
      'refusal record',
      {
        timeoutMs: 5000,
      },
    );
    assert.equal(access.filter((r) => r.circuitId === listed.spec.id).at(-1)!.reason, 'revoked');
    const refused = await openTunnel(tunnelled, await tunnelToken(h, tunnelled, { grant: { t: 'token-a' } }));
    assert.deepEqual(refused, { status: 401, code: 'AP_ERR_CREDENTIAL_REVOKED' });
    const fine = await openTunnel(tunnelled, await tunnelToken(h, tunnelled, { grant: { t: 'token-c' } }));
    assert.ok(fine instanceof WebSocket, 'a token of another grant still opens a tunnel');
    fine.close();
    other.socket.destroy();
  });

  test('a user record refuses cookies issued before it only; setup links minted before it too', async () => {
    const route = await h.addRoute({ ownerId: 'user-3' });
    const old = await h.login(route, { grant: { l: 'login-c' } });
    const oldLink = await h.token(route, 'user-3', { grant: { l: 'login-c' } });
    // `at` strictly after both were issued (the clock has millisecond steps).
    const minted = Date.now();
    const at = await until(() => (Date.now() > minted ? Date.now() : undefined), 'the clock to move', {
      timeoutMs: 1000,
      intervalMs: 1,
    });
    await h.revoke({ kind: 'user', subject: 'user-3', at, reason: 'user-disabled' });
    const fresh = await h.login(route, { grant: { l: 'login-d' } });
    assert.equal(await codeOf(route, old), 'AP_ERR_APP_COOKIE_REVOKED');
    assert.equal(await codeOf(route, fresh), 200, 'issued after the record');
    const setup = await h.request(route, {
      path: `/_appproxy/setup?token=${oldLink}&next=/`,
      headers: JSON_ACCEPT,
    });
    assert.equal(setup.status, 401);
    assert.equal(JSON.parse(setup.body.toString()).code, 'AP_ERR_CREDENTIAL_REVOKED');
  });

  test('a setup link of a revoked login session is refused; the cookie ends with its sign-in', async () => {
    const route = await h.addRoute();
    await h.revoke({ kind: 'login-session', subject: 'login-e' });
    const link = await h.token(route, undefined, { grant: { l: 'login-e' } });
    const res = await h.request(route, {
      path: `/_appproxy/setup?token=${link}&next=/`,
      headers: JSON_ACCEPT,
    });
    assert.equal(JSON.parse(res.body.toString()).code, 'AP_ERR_CREDENTIAL_REVOKED');
    const short = await h.token(route, undefined, {
      grant: { l: 'login-f' },
      cookieExpiresAt: Date.now() + 90_000,
    });
    const set = await h.request(route, { path: `/_appproxy/setup?token=${short}&next=/` });
    assert.equal(set.status, 302);
    const maxAge = Number(/Max-Age=(\d+)/.exec(String(set.headers['set-cookie']?.[0]))?.[1]);
    assert.ok(maxAge > 80 && maxAge <= 90, `Max-Age ${maxAge} follows the sign-in's end, not 12 h`);
  });

  test('a worker restarted while a record was added refuses the cookie', async () => {
    const route = await h.addRoute();
    const cookie = await h.login(route, { grant: { l: 'login-g' } });
    assert.equal(await codeOf(route, cookie), 200);
    await h.worker.close();
    const record = { id: 'offline-record', kind: 'login-session', subject: 'login-g', at: Date.now() };
    await h.kv.put(
      `/appproxy/v1/revocations/${record.id}`,
      JSON.stringify({ ...record, expiresAt: Date.now() + 3600_000, reason: 'logout' }),
    );
    h.worker = h.newWorker();
    await h.worker.start();
    await until(async () => (await h.readiness(route.spec.id))?.state === 'ready', 'route served again', {
      timeoutMs: 5000,
    });
    assert.equal(h.worker.status().revocations.records >= 1, true);
    assert.equal(await codeOf(route, cookie), 'AP_ERR_APP_COOKIE_REVOKED');
  });
});
