/**
 * A circuit's backend set (and its idle timeout) changes in place under live traffic: in-flight
 * requests, an event stream, a paced 50 MiB download and 20 WebSockets go on undisturbed on the
 * backends they started on, while every request sent after a change reaches only the new set; a
 * removed backend's idle pooled connections close at once and its busy one once its response is
 * done. Load is bounded: 50 keep-alive connections for about 10 s.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Pool } from 'undici';
import WebSocket, { WebSocketServer } from 'ws';
import { until } from '../../support/poll.ts';
import { pattern, patternSha256 } from '../../support/upstream.ts';
import { type Route, WorkerHarness } from './harness.ts';

/** A backend that says who it is, streams events and paced downloads, and echoes WebSockets. */
interface Backend {
  name: string;
  port: number;
  /** Open TCP connections from the worker, WebSockets excluded. */
  httpSockets: Set<Socket>;
  /** `/slow` requests being answered now. */
  slow: number;
  close(): Promise<void>;
}

async function startBackend(name: string): Promise<Backend> {
  const httpSockets = new Set<Socket>();
  const backend: Backend = { name, port: 0, httpSockets, slow: 0, close: async () => {} };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/who') {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name });
      res.end(name);
    } else if (url.pathname === '/sse') {
      // An event every 100 ms for `count` events, then the stream ends.
      const count = Number(url.searchParams.get('count'));
      res.writeHead(200, { 'content-type': 'text/event-stream', 'x-backend': name });
      res.flushHeaders();
      let n = 0;
      const t = setInterval(() => {
        res.write(`data: ${++n}\n\n`);
        if (n === count) {
          clearInterval(t);
          res.end();
        }
      }, 100);
      res.on('close', () => clearInterval(t));
    } else if (url.pathname === '/download') {
      // Paced: one 64 KiB block every `paceMs`, so the download spans the changes.
      const total = Number(url.searchParams.get('bytes'));
      const paceMs = Number(url.searchParams.get('paceMs'));
      res.writeHead(200, { 'content-length': total, 'x-backend': name });
      const it = pattern(total);
      const t = setInterval(() => {
        for (let i = 0; i < 16; i++) {
          const next = it.next();
          if (next.done) {
            clearInterval(t);
            res.end();
            return;
          }
          res.write(next.value);
        }
      }, paceMs);
      res.on('close', () => clearInterval(t));
    } else if (url.pathname === '/slow') {
      backend.slow++;
      const t = setTimeout(() => res.end(name), Number(url.searchParams.get('ms')));
      res.on('close', () => {
        backend.slow--;
        clearTimeout(t);
      });
    } else {
      res.writeHead(404).end();
    }
  });
  server.on('connection', (s: Socket) => {
    httpSockets.add(s);
    s.on('close', () => httpSockets.delete(s));
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    httpSockets.delete(socket as Socket);
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  backend.port = (server.address() as AddressInfo).port;
  backend.close = async () => {
    for (const c of wss.clients) c.terminate();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return backend;
}

const backendsOf = (...bs: Backend[]) => bs.map((b) => ({ host: '127.0.0.1', port: b.port }));

describe('backend set swapped in place', () => {
  let h: WorkerHarness;
  const all: Record<string, Backend> = {};

  before(async () => {
    h = await WorkerHarness.start({ mode: 'port' });
    for (const n of ['a', 'b', 'c', 'd']) all[n] = await startBackend(n);
  });
  after(async () => {
    await h.close();
    for (const b of Object.values(all)) await b.close();
  });

  test('under load: nothing fails, streams complete, WebSockets stay open, new requests reach only the new set', {
    timeout: 120_000,
  }, async () => {
    const { a, b, c, d } = all as Record<'a' | 'b' | 'c' | 'd', Backend>;
    const route: Route = await h.addRoute({ backends: backendsOf(a, b), idleTimeoutMs: 60_000 });
    const cookie = await h.login(route);
    const headers = { cookie };

    // Each change: when it was sent to the worker (`sent`) and when the worker confirmed it
    // (`from`). A request sent after `from` must reach the new set; one sent earlier may reach
    // the set it was sent under or any set whose change began before its answer came.
    const phases: { sent: number; from: number; allowed: Set<string> }[] = [
      { sent: 0, from: 0, allowed: new Set(['a', 'b']) },
    ];
    const wrong: string[] = [];
    const failures: string[] = [];
    let done = 0;

    // 20 WebSockets, each sending a message every 100 ms and checking every echo.
    const sockets = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const ws = new WebSocket(`${route.origin.replace('http', 'ws')}/ws`, { headers });
        await once(ws, 'open');
        const state = {
          ws,
          sent: 0,
          echoed: 0,
          closed: false,
          timer: undefined as NodeJS.Timeout | undefined,
        };
        ws.on('message', (m) => {
          if (String(m) === `ws${i}-${state.echoed}`) state.echoed++;
          else failures.push(`ws${i}: echo ${String(m)} out of order`);
        });
        ws.on('close', () => {
          state.closed = true;
        });
        state.timer = setInterval(() => ws.send(`ws${i}-${state.sent++}`), 100);
        return state;
      }),
    );

    // One event stream (80 events over ~8 s) and one paced 50 MiB download.
    const sse = (async () => {
      const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) =>
        request(`${route.origin}/sse?count=80`, { headers, agent: false }, resolve).on('error', reject).end(),
      );
      let text = '';
      for await (const chunk of res) text += chunk;
      return text.match(/data: \d+/g)?.length ?? 0;
    })();
    const size = 50 * 1024 * 1024;
    const download = (async () => {
      const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) =>
        request(`${route.origin}/download?bytes=${size}&paceMs=10`, { headers, agent: false }, resolve)
          .on('error', reject)
          .end(),
      );
      const hash = createHash('sha256');
      let got = 0;
      for await (const chunk of res) {
        hash.update(chunk as Buffer);
        got += (chunk as Buffer).length;
      }
      return { got, sha256: hash.digest('hex') };
    })();

    // 50 keep-alive connections asking "who?" as fast as they get answers, for the whole test.
    const client = new Pool(route.origin, { connections: 50 });
    let running = true;
    const loops = Array.from({ length: 50 }, async () => {
      while (running) {
        const sentAt = performance.now();
        try {
          const res = await client.request({ path: '/who', method: 'GET', headers });
          const body = await res.body.text();
          if (res.statusCode !== 200) failures.push(`status ${res.statusCode}: ${body.slice(0, 80)}`);
          else {
            done++;
            const answeredAt = performance.now();
            const at = phases.findLastIndex((p) => p.from <= sentAt);
            const ok = phases.some(
              (p, i) => i >= at && (i === at || p.sent <= answeredAt) && p.allowed.has(body),
            );
            if (!ok) wrong.push(`${body} sent in phase ${at}`);
          }
        } catch (err) {
          failures.push(String(err));
        }
      }
    });

    // Three changes 2.5 s apart: replace the set, shrink it and change the idle timeout, swap again.
    const changes: [Backend[], number][] = [
      [[c, d], 60_000],
      [[a], 45_000],
      [[b, d], 45_000],
    ];
    for (const [set, idleTimeoutMs] of changes) {
      await new Promise((r) => setTimeout(r, 2500));
      const phase = {
        sent: performance.now(),
        from: Number.POSITIVE_INFINITY,
        allowed: new Set(set.map((x) => x.name)),
      };
      phases.push(phase);
      await h.putRoute({ ...route.spec, backends: backendsOf(...set), idleTimeoutMs });
      // Every request sent from now on must reach the new set.
      phase.from = performance.now();
    }
    await new Promise((r) => setTimeout(r, 2500));
    running = false;
    await Promise.all(loops);
    await client.close();

    assert.equal(await sse, 80, 'every event of the stream arrived');
    assert.deepEqual(await download, { got: size, sha256: patternSha256(size) });
    for (const s of sockets) clearInterval(s.timer);
    await until(() => sockets.every((s) => s.echoed === s.sent), 'last echoes', { timeoutMs: 5000 });
    for (const s of sockets) {
      assert.equal(s.closed, false, 'the WebSocket stayed open');
      assert.equal(s.ws.readyState, WebSocket.OPEN);
      assert.ok(s.echoed > 50, `echoes ${s.echoed}`);
      s.ws.close();
    }
    assert.deepEqual(failures, []);
    assert.deepEqual(wrong, []);
    assert.ok(done > 1000, `${done} requests`);
    await h.deleteRoute(route);
  });

  test("a removed backend's idle pooled connections close now, its busy one when its response is done", async () => {
    const { a, b } = all as Record<'a' | 'b', Backend>;
    const route = await h.addRoute({ backends: backendsOf(a) });
    const cookie = await h.login(route);
    // Several pooled connections to `a`: parallel requests.
    await Promise.all(Array.from({ length: 4 }, () => h.request(route, { path: '/who', cookie })));
    await until(() => a.httpSockets.size >= 2, 'pooled connections to a', { timeoutMs: 5000 });
    const slow = h.request(route, { path: '/slow?ms=1500', cookie });
    await until(() => a.slow === 1, 'the slow request reached a', { timeoutMs: 5000 });
    await h.putRoute({ ...route.spec, backends: backendsOf(b) });
    await until(() => a.httpSockets.size === 1, 'only the busy connection to a is left', { timeoutMs: 5000 });
    assert.equal((await h.request(route, { path: '/who', cookie })).body.toString(), 'b');
    const res = await slow;
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'a', 'the in-flight request finished on the backend it started on');
    await until(() => a.httpSockets.size === 0, 'the busy connection closed once done', { timeoutMs: 5000 });
    await h.deleteRoute(route);
  });
});
