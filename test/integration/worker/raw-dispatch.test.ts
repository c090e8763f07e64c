/**
 * The raw HTTP/1.1 client behind `Upstream.dispatchTo` (fastpath/raw-dispatch.ts), against real
 * servers: the same handler events as undici's pool for the same answers (differentially), the
 * controller's pause, resume and abort, keep-alive reuse and the replay of a stale pooled
 * connection, and the failure codes the phase map reads.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as NetServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Dispatcher } from 'undici';
import { failedPhase } from '../../../src/worker/upstream/errors.ts';
import { type BackendEntry, Upstream } from '../../../src/worker/upstream/upstream.ts';

interface Outcome {
  status?: number;
  headers?: IncomingHttpHeaders;
  body: string;
  ended: boolean;
  error?: Error;
}

/** A handler that records what it is told; `hooks` may act on the controller. */
function record(
  hooks: { onData?: (c: Dispatcher.DispatchController, chunk: Buffer, o: Outcome) => void } = {},
): { handler: Dispatcher.DispatchHandler; done: Promise<Outcome> } {
  const o: Outcome = { body: '', ended: false };
  let resolve!: (o: Outcome) => void;
  const done = new Promise<Outcome>((r) => {
    resolve = r;
  });
  const handler: Dispatcher.DispatchHandler = {
    onResponseStart(_c, status, headers) {
      if (status < 200) return;
      o.status = status;
      o.headers = headers;
    },
    onResponseData(c, chunk) {
      o.body += chunk.toString('latin1');
      hooks.onData?.(c, chunk, o);
    },
    onResponseEnd() {
      o.ended = true;
      resolve(o);
    },
    onResponseError(_c, err) {
      o.error = err;
      resolve(o);
    },
  };
  return { handler, done };
}

function listen<T extends Server | NetServer>(server: T): Promise<number> {
  return new Promise((r) =>
    server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)),
  );
}

/** Raw answers by path, so every framing (and every fault) can be sent as bytes. */
const ANSWERS: Record<string, string> = {
  '/length': 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello',
  '/chunked':
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n3;ext=1\r\none\r\n4\r\n two\r\n0\r\nX-T: 1\r\n\r\n',
  '/early-hints':
    'HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok',
  '/no-content': 'HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n',
  '/status-text': 'HTTP/1.1 418 Teapot Here\r\nContent-Length: 0\r\n\r\n',
};

describe('raw dispatch (Upstream.dispatchTo with rawHttp)', () => {
  let raw: NetServer;
  let rawPort: number;
  const accepted: Socket[] = [];
  let seenRequests = '';

  before(async () => {
    raw = createTcpServer((s) => {
      accepted.push(s);
      let buf = '';
      let dieNext = false;
      s.on('data', (d) => {
        buf += d.toString('latin1');
        seenRequests += d.toString('latin1');
        for (;;) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = buf.slice(0, end);
          const len = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
          if (buf.length < end + 4 + len) return;
          buf = buf.slice(end + 4 + len);
          const path = head.split(' ')[1]!;
          // The next request on this connection finds it closed (a keep-alive the app timed out).
          if (dieNext) return s.destroy();
          if (path === '/die-next') {
            dieNext = true;
            s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
            continue;
          }
          if (path === '/hang') continue;
          if (path === '/hangup') return s.destroy();
          if (path === '/bad-head') return void s.end('HTTP/1.1 2OO OK\r\n\r\n');
          if (path === '/bad-chunks')
            return void s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n');
          if (path === '/close-delimited') return void s.end('HTTP/1.1 200 OK\r\n\r\nuntil the end');
          if (path === '/big') {
            s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${4 * 1024 * 1024}\r\n\r\n`);
            s.end(Buffer.alloc(4 * 1024 * 1024, 'x'));
            continue;
          }
          if (path === '/then-close') {
            s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
            setTimeout(() => s.end(), 30);
            continue;
          }
          s.write(ANSWERS[path] ?? 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
        }
      });
      s.on('error', () => {});
    });
    rawPort = await listen(raw);
  });
  after(() => {
    for (const s of accepted) s.destroy();
    raw?.close();
  });

  const upstreamOf = (rawHttp: boolean, port = rawPort, headersTimeoutMs = 1000) =>
    new Upstream([{ host: '127.0.0.1', port }], { headersTimeoutMs, rawHttp });

  function send(
    u: Upstream,
    opts: Partial<Dispatcher.DispatchOptions>,
    hooks?: Parameters<typeof record>[0],
  ): Promise<Outcome> {
    const r = record(hooks);
    const entry = u.routes[0] as BackendEntry;
    u.dispatchTo(
      entry,
      { method: 'GET', path: '/', headers: {}, ...opts } as Dispatcher.DispatchOptions,
      r.handler,
    );
    return r.done;
  }

  for (const path of [...Object.keys(ANSWERS), '/close-delimited']) {
    test(`the same events as undici's pool: ${path}`, async () => {
      const a = upstreamOf(true);
      const b = upstreamOf(false);
      try {
        const [x, y] = [await send(a, { path }), await send(b, { path })];
        const norm = (o: Outcome) => ({ ...o, headers: { ...o.headers } });
        assert.deepEqual(norm(x), norm(y));
        assert.equal(x.ended, true);
      } finally {
        a.close();
        b.close();
      }
    });
  }

  test('a body in memory goes with its length; headers as given; no undici pool is built', async () => {
    const u = upstreamOf(true);
    seenRequests = '';
    const o = await send(u, {
      method: 'POST',
      path: '/length',
      headers: { host: 'app.example', 'x-many': ['1', '2'], 'content-length': '999' },
      body: Buffer.from('{"model":"m"}'),
    });
    assert.equal(o.status, 200);
    assert.match(
      seenRequests,
      /^POST \/length HTTP\/1\.1\r\nhost: app\.example\r\nx-many: 1\r\nx-many: 2\r\ncontent-length: 13\r\n\r\n\{"model":"m"\}$/,
    );
    assert.equal((u.routes[0] as unknown as { pool: unknown }).pool, null);
    u.close();
  });

  test('keep-alive: sequential requests share one connection', async () => {
    const u = upstreamOf(true);
    const before = accepted.length;
    for (let i = 0; i < 5; i++) assert.equal((await send(u, { path: '/length' })).body, 'hello');
    assert.equal(accepted.length - before, 1);
    u.close();
  });

  test('pause holds the body back until resume; the exchange completes', async () => {
    const u = upstreamOf(true);
    let paused = false;
    let once = false;
    let during = 0;
    const o = await send(
      u,
      { path: '/big' },
      {
        onData: (c, chunk) => {
          if (paused) during += chunk.length;
          if (!once) {
            once = true;
            paused = true;
            c.pause();
            setTimeout(() => {
              paused = false;
              c.resume();
            }, 150);
          }
        },
      },
    );
    assert.equal(o.ended, true);
    assert.equal(o.body.length, 4 * 1024 * 1024);
    // What was read before the pause took effect arrives in the same tick: at most one read.
    assert.ok(during <= 64 * 1024, `${during} bytes while paused`);
    u.close();
  });

  test('abort mid-body: the handler gets the reason, the connection is not reused', async () => {
    const u = upstreamOf(true);
    const before = accepted.length;
    const reason = new Error('client went away');
    const o = await send(u, { path: '/big' }, { onData: (c) => c.abort(reason) });
    assert.equal(o.error, reason);
    assert.equal(o.ended, false);
    assert.equal((await send(u, { path: '/length' })).body, 'hello');
    assert.equal(accepted.length - before, 2);
    u.close();
  });

  test('a stale pooled connection: a GET is replayed on a fresh one, a POST with a body is not', async () => {
    const u = upstreamOf(true);
    assert.equal((await send(u, { path: '/die-next' })).body, 'ok');
    const get = await send(u, { path: '/length' });
    assert.equal(get.body, 'hello', String(get.error));
    assert.equal((await send(u, { path: '/die-next' })).body, 'ok');
    const post = await send(u, { method: 'POST', path: '/length', body: 'x' });
    assert.ok(post.error, 'not replayed: the app may have acted on it');
    assert.equal(failedPhase(post.error!), 'reset');
    // Idle connections the app closes are dropped from the pool, not handed out.
    assert.equal((await send(u, { path: '/then-close' })).body, 'ok');
    await new Promise((r) => setTimeout(r, 60));
    assert.equal((await send(u, { method: 'POST', path: '/length', body: 'x' })).body, 'hello');
    u.close();
  });

  test('failures carry the codes of their phase', async () => {
    const closed = createTcpServer();
    const closedPort = await listen(closed);
    closed.close();
    const cases: [string, Upstream, string][] = [
      ['refused', upstreamOf(true, closedPort), 'connect'],
      ['hang', upstreamOf(true, rawPort, 300), 'headers'],
      ['hangup', upstreamOf(true), 'reset'],
      ['bad-head', upstreamOf(true), 'reset'],
    ];
    for (const [path, u, phase] of cases) {
      const o = await send(u, { path: `/${path}` });
      assert.ok(o.error, `${path}: an error`);
      assert.equal(failedPhase(o.error!), phase, `${path}: ${o.error!.message}`);
      u.close();
    }
    const u = upstreamOf(true);
    const broken = await send(u, { path: '/bad-chunks' });
    assert.equal(broken.status, 200);
    assert.ok(broken.error, 'a bad chunk after the head is an error, not an end');
    assert.equal(failedPhase(broken.error!, true), 'body');
    u.close();
  });

  test('a header value that would split the head is refused before anything is sent', async () => {
    const u = upstreamOf(true);
    seenRequests = '';
    const o = await send(u, { path: '/length', headers: { 'x-a': 'v\r\nGET /smuggled HTTP/1.1' } });
    assert.ok(o.error);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(seenRequests, '');
    u.close();
  });
});

describe('raw dispatch through a node:http app', () => {
  let app: Server;
  let port: number;
  before(async () => {
    app = createServer((req, res) => {
      let n = 0;
      req.on('data', (d: Buffer) => {
        n += d.length;
      });
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        if (req.url === '/stream') {
          res.write('data: 1\n\n');
          setTimeout(() => res.end('data: [DONE]\n\n'), 20);
          return;
        }
        res.end(JSON.stringify({ method: req.method, url: req.url, bytes: n }));
      });
    });
    port = await listen(app);
  });
  after(() => app?.close());

  test('requests and streamed answers, many in a row, on both clients alike', async () => {
    const a = new Upstream([{ host: '127.0.0.1', port }], { headersTimeoutMs: 1000, rawHttp: true });
    const b = new Upstream([{ host: '127.0.0.1', port }], { headersTimeoutMs: 1000 });
    for (let i = 0; i < 20; i++) {
      const opts = {
        method: i % 2 ? 'POST' : 'GET',
        path: i % 3 ? '/stream' : `/q?i=${i}`,
        headers: {},
        body: i % 2 ? Buffer.alloc(i * 1000, 'y') : null,
      } as Dispatcher.DispatchOptions;
      const run = (u: Upstream) => {
        const r = record();
        u.dispatchTo(u.routes[0] as BackendEntry, opts, r.handler);
        return r.done;
      };
      const [x, y] = [await run(a), await run(b)];
      const strip = (o: Outcome) => ({ ...o, headers: { ...o.headers, date: '' } });
      assert.deepEqual(strip(x), strip(y));
    }
    a.close();
    b.close();
  });
});
