/**
 * One phase → code map for every way into a backend: an HTTP request and a WebSocket upgrade to
 * the same broken backend fail with the same status and code — a backend that accepts and never
 * answers (headers timeout), one that refuses connections (connect), one that hangs up before
 * answering (reset).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { type Route, WorkerHarness } from './harness.ts';

let h: WorkerHarness;
const servers: Server[] = [];
const held: Socket[] = [];

async function tcpServer(onConnection: (s: Socket) => void): Promise<number> {
  const server = createServer(onConnection);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

before(async () => {
  h = await WorkerHarness.start({ mode: 'port', worker: { upstreamHeadersTimeoutMs: 300 } });
});
after(async () => {
  await h?.close();
  for (const s of held) s.destroy();
  for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
});

async function viaHttp(route: Route, cookie: string): Promise<{ status: number; code: string }> {
  const res = await h.request(route, { path: '/', cookie, headers: { accept: 'application/json' } });
  return { status: res.status, code: JSON.parse(res.body.toString()).code };
}

function viaWebSocket(route: Route, cookie: string): Promise<{ status: number; code: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${route.port}/ws`, {
      headers: { host: route.host, cookie, accept: 'application/json' },
    });
    ws.once('open', () => reject(new Error('the upgrade succeeded')));
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, code: JSON.parse(Buffer.concat(chunks).toString()).code }),
      );
    });
    ws.once('error', () => {});
  });
}

describe('the same backend fault gets the same code over HTTP and WebSocket', () => {
  const cases: [string, () => Promise<number>, number, string][] = [
    [
      'a backend that accepts and never answers',
      () => tcpServer((s) => void held.push(s)),
      504,
      'AP_ERR_UPSTREAM_HEADERS_TIMEOUT',
    ],
    ['a backend that refuses the connection', freePort, 502, 'AP_ERR_UPSTREAM_CONNECT'],
    [
      'a backend that hangs up before answering',
      () => tcpServer((s) => s.once('data', () => s.destroy())),
      502,
      'AP_ERR_UPSTREAM_RESET',
    ],
  ];
  for (const [what, backend, status, code] of cases) {
    test(what, async () => {
      const port = await backend();
      const route = await h.addRoute({ backends: [{ host: '127.0.0.1', port }] });
      const cookie = await h.login(route);
      assert.deepEqual(await viaHttp(route, cookie), { status, code }, 'HTTP');
      assert.deepEqual(await viaWebSocket(route, cookie), { status, code }, 'WebSocket upgrade');
      await h.deleteRoute(route);
    });
  }
});
