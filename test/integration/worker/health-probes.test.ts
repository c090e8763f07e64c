/**
 * The health tracker's real HTTP probes against loopback servers: one that answers 200, one that
 * answers 503 and then recovers, one that accepts and never answers (probe timeout), a closed port
 * (connection refused), and a server process frozen with SIGSTOP and thawed with SIGCONT (the
 * kernel still accepts its connections: only the probe timeout can tell). States are polled with a
 * generous deadline; no assertion depends on tight timing.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { after, type TestContext, test } from 'node:test';
import type { EndpointHealthCheck } from '../../../src/contracts/endpoint.ts';
import { type HealthState, HealthTracker } from '../../../src/worker/upstream/health.ts';
import { until } from '../../support/poll.ts';

const DEADLINE = { timeoutMs: 5_000 };

const CHECK: EndpointHealthCheck = {
  path: '/health',
  expectedStatus: 200,
  intervalMs: 100,
  timeoutMs: 200,
  healthyThreshold: 1,
  unhealthyThreshold: 2,
  initialDelayMs: 0,
};

const servers: (Server | HttpServer)[] = [];
after(async () => {
  for (const s of servers) {
    (s as HttpServer).closeAllConnections?.();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

async function listen<S extends Server | HttpServer>(server: S): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

/** An HTTP server answering `status()` (and recording the paths asked). */
async function httpServer(status: () => number): Promise<{ port: number; paths: string[] }> {
  const paths: string[] = [];
  const server = createHttpServer((req, res) => {
    paths.push(req.url ?? '');
    res.statusCode = status();
    res.end('body the probe does not need');
  });
  return { port: await listen(server), paths };
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

interface Probed {
  h: HealthTracker;
  changes: [string, boolean][];
  state: () => HealthState | undefined;
  lastError: () => string | null | undefined;
}

function track(t: TestContext, port: number): Probed {
  const changes: [string, boolean][] = [];
  const h = new HealthTracker({
    check: CHECK,
    passive: { consecutiveFailures: 3, baseEjectionMs: 1_000, maxEjectionMs: 10_000, maxEjectedPercent: 50 },
    slowStartMs: 0,
    onChange: (k, u) => changes.push([k, u]),
  });
  t.after(() => h.close());
  h.setTargets([{ key: 't', host: '127.0.0.1', port, weight: 1 }]);
  return {
    h,
    changes,
    state: () => h.report()[0]?.state,
    lastError: () => h.report()[0]?.lastError,
  };
}

test('a server answering 200 turns healthy; its probes GET the check path; close stops probing', async (t) => {
  const { port, paths } = await httpServer(() => 200);
  const p = track(t, port);
  assert.equal(p.state(), 'starting');
  assert.equal(p.h.ready, false);
  await until(() => p.state() === 'healthy', 'healthy', DEADLINE);
  assert.equal(p.h.usable('t'), true);
  assert.equal(p.h.ready, true);
  assert.deepEqual(p.changes, [['t', true]]);
  assert.equal(paths[0], '/health');
  assert.ok(p.h.report()[0]!.lastProbeAt! > 0);
  await until(() => paths.length >= 3, 'more probes at the interval', DEADLINE);

  p.h.close();
  const n = paths.length;
  await new Promise((r) => setTimeout(r, 500));
  // A probe already on its way may still land; none starts after close.
  assert.ok(paths.length <= n + 1, `${paths.length - n} probes after close`);
});

test('a server answering 503 stays starting, turns healthy when it recovers, unhealthy when it fails again', async (t) => {
  let status = 503;
  const { port } = await httpServer(() => status);
  const p = track(t, port);
  await until(() => p.lastError() === 'status 503', 'a failed probe', DEADLINE);
  assert.equal(p.state(), 'starting');
  assert.equal(p.h.panic, false);

  status = 200;
  await until(() => p.state() === 'healthy', 'healthy after recovery', DEADLINE);
  status = 503;
  await until(() => p.state() === 'unhealthy', 'unhealthy', DEADLINE);
  // Its only target is unhealthy: panic keeps it usable (never route to nothing).
  assert.equal(p.h.panic, true);
  assert.equal(p.h.usable('t'), true);
  status = 200;
  await until(() => p.state() === 'healthy', 'healthy again', DEADLINE);
  assert.equal(p.h.panic, false);
  assert.deepEqual(p.changes, [['t', true]]);
});

test('a server that accepts and never answers: each probe times out and its connection is closed', async (t) => {
  const open = new Set<Socket>();
  let most = 0;
  let accepted = 0;
  const server = createServer((s) => {
    accepted++;
    open.add(s);
    most = Math.max(most, open.size);
    s.on('error', () => {});
    s.on('close', () => open.delete(s));
    // Read (and ignore) the request, so that the prober's hang-up is seen.
    s.resume();
  });
  const port = await listen(server);
  t.after(() => {
    for (const s of open) s.destroy();
  });
  const p = track(t, port);
  await until(
    () => accepted >= 3 && /^timeout after 200 ms$/.test(p.lastError() ?? ''),
    'timeouts',
    DEADLINE,
  );
  assert.equal(p.state(), 'starting');
  assert.equal(p.h.usable('t'), false);
  // One probe in flight per target, and a timed-out probe does not leave its connection open (on a
  // busy machine the hang-up and the next probe's connect may be seen in the same turn: 2).
  assert.ok(most <= 2, `${most} probe connections open at once`);
  p.h.close();
  await until(() => open.size === 0, 'the last probe connection closed', DEADLINE);
});

test('a closed port: connection refused', async (t) => {
  const p = track(t, await freePort());
  await until(() => p.lastError() === 'ECONNREFUSED', 'connection refused', DEADLINE);
  assert.equal(p.state(), 'starting');
  assert.equal(p.h.ready, false);
});

/** A tiny HTTP server in its own process (so that it can be frozen); prints its port. */
async function childServer(t: TestContext): Promise<{ child: ChildProcess; port: number }> {
  const code = `
    const http = require('node:http');
    const s = http.createServer((req, res) => res.end('ok'));
    s.listen(0, '127.0.0.1', () => process.stdout.write(s.address().port + '\\n'));
  `;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  // Whatever happens in the test, the child is thawed and killed.
  t.after(() => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  });
  let out = '';
  child.stdout!.setEncoding('utf8');
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (c, s) => reject(new Error(`server process exited (${c ?? s})`)));
    child.stdout!.on('data', (d: string) => {
      out += d;
      const m = /^(\d+)\n/.exec(out);
      if (m) resolve(Number(m[1]));
    });
  });
  return { child, port };
}

test('a server process stopped with SIGSTOP turns unhealthy (probe timeouts), and healthy after SIGCONT', async (t) => {
  const { child, port } = await childServer(t);
  // Two targets, so the frozen one's fall is not hidden by panic.
  const { port: okPort } = await httpServer(() => 200);
  const changes: [string, boolean][] = [];
  const h = new HealthTracker({
    check: CHECK,
    passive: { consecutiveFailures: 3, baseEjectionMs: 1_000, maxEjectionMs: 10_000, maxEjectedPercent: 50 },
    slowStartMs: 0,
    onChange: (k, u) => changes.push([k, u]),
  });
  t.after(() => h.close());
  h.setTargets([
    { key: 'frozen', host: '127.0.0.1', port, weight: 1 },
    { key: 'ok', host: '127.0.0.1', port: okPort, weight: 1 },
  ]);
  const state = (k: string) => h.report().find((r) => r.key === k);
  await until(
    () => state('frozen')?.state === 'healthy' && state('ok')?.state === 'healthy',
    'healthy',
    DEADLINE,
  );

  child.kill('SIGSTOP');
  try {
    await until(() => state('frozen')?.state === 'unhealthy', 'unhealthy while stopped', DEADLINE);
    assert.match(state('frozen')!.lastError ?? '', /^timeout after/);
    assert.equal(h.usable('frozen'), false);
    assert.equal(h.usable('ok'), true);
    assert.equal(h.panic, false);
  } finally {
    child.kill('SIGCONT');
  }
  await until(() => state('frozen')?.state === 'healthy', 'healthy after SIGCONT', DEADLINE);
  assert.deepEqual(
    changes.filter(([k]) => k === 'frozen'),
    [
      ['frozen', true],
      ['frozen', false],
      ['frozen', true],
    ],
  );
});
