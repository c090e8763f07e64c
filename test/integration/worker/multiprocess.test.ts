/**
 * `processes > 1`: the primary and its data-plane children serve the same ports (SO_REUSEPORT).
 * Which process accepts a connection is the kernel's choice, so the tests open many connections
 * and read the per-process open-connection counters (reporter `<authority>:<pid>`).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { counterKeys } from '../../../src/contracts/activity.ts';
import { until } from '../../support/poll.ts';
import { type Route, WorkerHarness } from './harness.ts';

const PROCESSES = 3;
const CONNECTIONS = 48;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Open-connection count of the circuit per serving process. */
async function openByProcess(h: WorkerHarness, route: Route): Promise<number[]> {
  const out: number[] = [];
  for (const pid of h.worker.processIds()) {
    const v = await h.counters.get(counterKeys.openConnections(route.spec.id, `${h.authority}:${pid}`));
    out.push(Number(v ?? 0));
  }
  return out;
}

/** Status of a one-shot request on a fresh connection, or the connection error code. */
function probe(route: Route, cookie?: string): Promise<number | string> {
  return new Promise((resolve) => {
    const s = connect(route.port, '127.0.0.1');
    let data = '';
    s.on('data', (d) => {
      data += d.toString('latin1');
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1] ?? 0) || 'closed'));
    // No half-close: the request says connection: close and the server ends the connection.
    s.write(
      `GET / HTTP/1.1\r\nhost: ${route.host}\r\n${cookie ? `cookie: ${cookie}\r\n` : ''}connection: close\r\n\r\n`,
    );
  });
}

for (const mode of ['port', 'wildcard'] as const) {
  describe(`${mode} mode with ${PROCESSES} processes`, () => {
    let h: WorkerHarness;
    before(async () => {
      h = await WorkerHarness.start({ mode, worker: { processes: PROCESSES } });
    });
    after(async () => {
      const pids = h.worker.processIds().slice(1);
      await h.close();
      await until(() => pids.every((p) => !alive(p)), 'children exited', { timeoutMs: 5000 });
    });

    test('a route added is served by every process', async () => {
      assert.equal(h.worker.processIds().length, PROCESSES);
      const route = await h.addRoute();
      const cookie = await h.login(route);
      const sockets: WebSocket[] = [];
      for (let i = 0; i < CONNECTIONS; i++) {
        const ws = new WebSocket(`ws://127.0.0.1:${route.port}/ws`, {
          headers: { host: route.host, cookie },
        });
        sockets.push(ws);
      }
      await Promise.all(sockets.map((ws) => once(ws, 'open')));
      for (const ws of sockets.slice(0, 4)) {
        ws.send('ping');
        assert.equal(String((await once(ws, 'message'))[0]), 'ping');
      }
      const open = await until(
        async () => {
          const o = await openByProcess(h, route);
          return o.reduce((a, b) => a + b, 0) >= CONNECTIONS ? o : undefined;
        },
        'open connections reported by every process',
        { timeoutMs: 5000 },
      );
      assert.ok(
        open.every((n) => n > 0),
        `every process carries some connections: ${open}`,
      );

      // Deleting the route closes the WebSockets held by every process.
      const closed = sockets.map((ws) => once(ws, 'close'));
      await h.deleteRoute(route);
      await Promise.all(closed);

      // …and no process serves it any more.
      await until(
        async () => {
          const answers = await Promise.all(Array.from({ length: CONNECTIONS }, () => probe(route, cookie)));
          return answers.every((a) => (mode === 'port' ? a === 'ECONNREFUSED' : a === 410));
        },
        'every process refuses the deleted route',
        { timeoutMs: 5000 },
      );
    });

    test('setup, activity and requests work through the children', async () => {
      const route = await h.addRoute();
      const cookie = await h.login(route);
      const answers = await Promise.all(Array.from({ length: CONNECTIONS }, () => probe(route, cookie)));
      assert.deepEqual(new Set(answers), new Set([200]));
      await until(
        async () => Number(await h.counters.get(counterKeys.requests(route.spec.id))) >= CONNECTIONS,
        'requests counted across processes',
        { timeoutMs: 5000 },
      );
    });

    test('an open WebSocket in a child is closed when the worker closes', async () => {
      const route = await h.addRoute();
      const cookie = await h.login(route);
      const sockets = Array.from(
        { length: 16 },
        () => new WebSocket(`ws://127.0.0.1:${route.port}/ws`, { headers: { host: route.host, cookie } }),
      );
      await Promise.all(sockets.map((ws) => once(ws, 'open')));
      const open = await until(
        async () => {
          const o = await openByProcess(h, route);
          return o.reduce((a, b) => a + b, 0) >= sockets.length ? o : undefined;
        },
        'open connections reported',
        { timeoutMs: 5000 },
      );
      assert.ok(
        open.slice(1).some((n) => n > 0),
        `a child carries some: ${open}`,
      );
      const closed = sockets.map((ws) => once(ws, 'close'));
      const pids = h.worker.processIds().slice(1);
      await h.worker.close();
      await Promise.all(closed);
      await until(() => pids.every((p) => !alive(p)), 'children exited', { timeoutMs: 5000 });
    });
  });
}
