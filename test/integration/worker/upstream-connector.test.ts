/**
 * The upstream's connector: a socket it opened carries nothing of the connect once connected (an
 * upgraded WebSocket's backend socket lives as long as the WebSocket, so anything left on it is
 * paid per idle WebSocket), and a refused connect is still the `connect` phase.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import type { Dispatcher } from 'undici';
import { failedPhase } from '../../../src/worker/upstream/errors.ts';
import { Upstream } from '../../../src/worker/upstream/upstream.ts';

const backend = createHttpServer((_req, res) => res.end('ok'));
const upgraded: import('node:stream').Duplex[] = [];
backend.on('upgrade', (req, socket) => {
  upgraded.push(socket);
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nupgrade: ${req.headers.upgrade}\r\nconnection: Upgrade\r\n\r\n`,
  );
});
let port = 0;

before(async () => {
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  port = (backend.address() as AddressInfo).port;
});
after(() => {
  for (const s of upgraded) s.destroy();
  backend.close();
});

function upgradeOnce(u: Upstream): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart: () => {},
      onResponseData: () => {},
      onResponseEnd: () => {},
      onRequestUpgrade: (_c, _status, _headers, socket) => resolve(socket as Socket),
      onResponseStart: (_c, status) => reject(new Error(`answered ${status}, not 101`)),
      onResponseError: (_c, err) => reject(err),
    };
    u.upgrade({ path: '/', method: 'GET', headers: { host: 'backend' } }, 'websocket', handler);
  });
}

test('an upgraded backend socket keeps no listener or timer of its connect', async () => {
  const u = new Upstream([{ host: '127.0.0.1', port }], { headersTimeoutMs: 5_000 });
  try {
    const socket = await upgradeOnce(u);
    // What the relay adds comes after; whatever is here now would stay for the socket's life.
    assert.equal(socket.listenerCount('error'), 0, 'error listeners left on the socket');
    assert.equal(socket.listenerCount('connect'), 0, 'connect listeners left on the socket');
    socket.destroy();
  } finally {
    u.close();
  }
});

test('a refused connect fails in the connect phase, for requests and upgrades alike', async () => {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const closedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const u = new Upstream([{ host: '127.0.0.1', port: closedPort }], { headersTimeoutMs: 5_000 });
  try {
    const err = await upgradeOnce(u).then(
      () => assert.fail('the upgrade succeeded'),
      (e: Error) => e,
    );
    assert.equal(failedPhase(err), 'connect', `${(err as NodeJS.ErrnoException).code}: ${err.message}`);
  } finally {
    u.close();
  }
});
