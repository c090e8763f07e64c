/**
 * The request path in both frontend modes: setup → cookie → app, WebSocket, SSE, large bodies,
 * auth refusals, redirect safety, forwarding headers, hop-by-hop stripping, upstream failures.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { until } from '../../support/poll.ts';
import { pattern, patternSha256, startUpstream } from '../../support/upstream.ts';
import { type Route, WorkerHarness } from './harness.ts';

const MiB = 1024 * 1024;

// Every deployment shape of the data plane: each frontend mode, several data-plane processes
// (the kernel spreads connections over the primary and a child, so each request may land on
// either), and each mode with the HTTP/1.1 fast path off (node:http and undici for everything).
const SHAPES = [
  { mode: 'port', processes: 1, fastPath: true },
  { mode: 'wildcard', processes: 1, fastPath: true },
  { mode: 'port', processes: 2, fastPath: true },
  { mode: 'port', processes: 1, fastPath: false },
  { mode: 'wildcard', processes: 1, fastPath: false },
] as const;

for (const { mode, processes, fastPath } of SHAPES) {
  const shape = `${mode} mode${processes > 1 ? `, ${processes} processes` : ''}${fastPath ? '' : ', fast path off'}`;
  describe(`worker proxy (${shape})`, () => {
    let h: WorkerHarness;
    let route: Route;
    let cookie: string;

    before(async () => {
      h = await WorkerHarness.start({ mode, worker: { upstreamHeadersTimeoutMs: 400, processes, fastPath } });
      route = await h.addRoute();
      cookie = await h.login(route);
    });
    after(() => h.close());

    test('setup answers 302 with a host-only HttpOnly cookie, then the page is served', async () => {
      const r = await h.addRoute();
      const res = await h.request(r, {
        path: `/_appproxy/setup?token=${await h.token(r)}&next=/lab/tree?x=1`,
      });
      assert.equal(res.status, 302);
      assert.equal(res.headers.location, '/lab/tree?x=1');
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
      const setCookie = res.headers['set-cookie']![0]!;
      assert.match(setCookie, new RegExp(`^appproxy_${r.spec.id.replaceAll('-', '')}=`));
      assert.match(setCookie, /; HttpOnly/);
      assert.match(setCookie, /; SameSite=Lax/);
      assert.match(setCookie, /; Path=\//);
      assert.doesNotMatch(setCookie, /Domain=/i);
      const page = await h.request(r, { path: '/lab/tree', cookie: setCookie.split(';')[0] });
      assert.equal(page.status, 200);
      assert.equal(page.body.toString(), '<h1>hello from /lab/tree</h1>');
    });

    test('no cookie ⇒ 401 page for browsers, JSON envelope for API clients', async () => {
      const html = await h.request(route, { path: '/', headers: { accept: 'text/html,*/*' } });
      assert.equal(html.status, 401);
      assert.match(String(html.headers['content-type']), /text\/html/);
      assert.match(html.body.toString(), /open the app again where you got its link/i);
      // Only what exists: no console to send users to (yet).
      assert.doesNotMatch(html.body.toString(), /console/i);
      assert.ok(html.headers['x-request-id']);
      const json = await h.request(route, { path: '/', headers: { accept: 'application/json' } });
      assert.equal(json.status, 401);
      const env = JSON.parse(json.body.toString());
      assert.equal(env.code, 'AP_ERR_APP_COOKIE_MISSING');
      assert.equal(env.requestId, json.headers['x-request-id']);
      const forged = await h.request(route, {
        cookie: `${cookie}x`,
        headers: { accept: 'application/json' },
      });
      assert.equal(JSON.parse(forged.body.toString()).code, 'AP_ERR_APP_COOKIE_INVALID');
    });

    test('a cookie of circuit A is refused on circuit B', async () => {
      const b = await h.addRoute();
      const [nameA, valueA] = cookie.split('=') as [string, string];
      const nameB = `appproxy_${b.spec.id.replaceAll('-', '')}`;
      const asIs = await h.request(b, {
        cookie: `${nameA}=${valueA}`,
        headers: { accept: 'application/json' },
      });
      assert.equal(asIs.status, 401);
      const renamed = await h.request(b, {
        cookie: `${nameB}=${valueA}`,
        headers: { accept: 'application/json' },
      });
      assert.equal(renamed.status, 401);
      assert.equal(JSON.parse(renamed.body.toString()).code, 'AP_ERR_APP_COOKIE_INVALID');
      assert.equal((await h.request(route, { cookie })).status, 200);
    });

    test('a setup token works once, for its own circuit and owner only', async () => {
      const t = await h.token(route);
      assert.equal((await h.request(route, { path: `/_appproxy/setup?token=${t}` })).status, 302);
      const again = await h.request(route, {
        path: `/_appproxy/setup?token=${t}`,
        headers: { accept: 'application/json' },
      });
      assert.equal(again.status, 401);
      assert.equal(JSON.parse(again.body.toString()).code, 'AP_ERR_SETUP_TOKEN_USED');
      const other = await h.addRoute();
      const wrongCircuit = await h.request(other, {
        path: `/_appproxy/setup?token=${await h.token(route)}`,
        headers: { accept: 'application/json' },
      });
      assert.equal(JSON.parse(wrongCircuit.body.toString()).code, 'AP_ERR_SETUP_TOKEN_INVALID');
      const wrongUser = await h.request(route, {
        path: `/_appproxy/setup?token=${await h.token(route, 'mallory')}`,
        headers: { accept: 'application/json' },
      });
      assert.equal(JSON.parse(wrongUser.body.toString()).code, 'AP_ERR_SETUP_TOKEN_INVALID');
    });

    test('an expired setup token is refused', async () => {
      const res = await h.request(route, {
        path: `/_appproxy/setup?token=${await h.expiredToken(route)}`,
        headers: { accept: 'application/json' },
      });
      assert.equal(res.status, 401);
      assert.equal(JSON.parse(res.body.toString()).code, 'AP_ERR_SETUP_TOKEN_EXPIRED');
    });

    test('redirect targets must be same-origin paths (and a refused one does not burn the token)', async () => {
      const t = await h.token(route);
      for (const next of [
        '//evil.com',
        'https://evil.com',
        '/\\evil.com',
        '/%2F/evil.com',
        '/%5Cevil.com',
        'evil',
        '/a\tb',
      ]) {
        const res = await h.request(route, {
          path: `/_appproxy/setup?token=${t}&next=${encodeURIComponent(next)}`,
          headers: { accept: 'application/json' },
        });
        assert.equal(res.status, 400, next);
        assert.equal(JSON.parse(res.body.toString()).code, 'AP_ERR_REDIRECT_NOT_ALLOWED', next);
      }
      assert.equal((await h.request(route, { path: `/_appproxy/setup?token=${t}&next=/ok` })).status, 302);
    });

    test('logout clears every app cookie of the origin', async () => {
      const other = 'appproxy_0123456789abcdef=zzz';
      const res = await h.request(route, {
        path: '/_appproxy/logout',
        cookie: `${cookie}; theme=dark; ${other}`,
      });
      assert.equal(res.status, 200);
      const cleared = (res.headers['set-cookie'] ?? []).map((c) => c.split('=')[0]);
      assert.ok(cleared.includes(cookie.split('=')[0]));
      assert.ok(cleared.includes('appproxy_0123456789abcdef'));
      assert.ok(!cleared.includes('theme'));
      for (const c of res.headers['set-cookie']!) assert.match(c, /Max-Age=0/);
      const redirect = await h.request(route, { path: '/_appproxy/logout?next=/bye', cookie });
      assert.equal(redirect.status, 302);
      assert.equal(redirect.headers.location, '/bye');
    });

    test('forwarding headers: Host kept, hostile X-Forwarded-* replaced, app cookies stripped, hop-by-hop dropped', async () => {
      const res = await h.request(route, {
        path: '/headers',
        cookie: `theme=dark; ${cookie}; lang=en`,
        headers: {
          'x-forwarded-for': '6.6.6.6',
          'x-forwarded-host': 'evil.com',
          'x-forwarded-proto': 'https',
          forwarded: 'for=6.6.6.6',
          connection: 'keep-alive, x-drop-me',
          'x-drop-me': '1',
          'keep-alive': 'timeout=99',
          'proxy-authorization': 'Basic Zm9v',
          te: 'trailers',
        },
      });
      assert.equal(res.status, 200);
      const up = JSON.parse(res.body.toString());
      assert.equal(up.host, route.host);
      assert.equal(up['x-forwarded-for'], '127.0.0.1');
      assert.equal(up['x-forwarded-host'], route.host);
      assert.equal(up['x-forwarded-proto'], 'http');
      assert.equal(up.forwarded, `for=127.0.0.1;host="${route.host}";proto=http`);
      assert.equal(up.cookie, 'theme=dark; lang=en');
      for (const k of ['x-drop-me', 'keep-alive', 'proxy-authorization', 'te'])
        assert.equal(up[k], undefined, k);

      const hop = await h.request(route, { path: '/hop', cookie });
      assert.equal(hop.status, 200);
      for (const k of ['x-secret-hop', 'keep-alive', 'proxy-authenticate'])
        assert.equal(hop.headers[k], undefined, k);
      assert.deepEqual(hop.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
    });

    test('ambiguous framing (Content-Length with Transfer-Encoding) is refused with 400', async () => {
      const net = await import('node:net');
      const s = net.connect(route.port, '127.0.0.1');
      await once(s, 'connect');
      s.write(
        `POST /upload HTTP/1.1\r\nHost: ${route.host}\r\nCookie: ${cookie}\r\nContent-Length: 4\r\n` +
          'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      );
      let data = '';
      s.on('data', (c) => (data += c));
      await once(s, 'close');
      assert.match(data, /^HTTP\/1.1 400/);
      assert.match(data, /AP_ERR_BAD_REQUEST/);
    });

    test('WebSocket echo passes through, with the app cookie stripped', async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${route.port}/ws`, {
        headers: { host: route.host, cookie: `${cookie}; x=1` },
        origin: route.origin,
      });
      await once(ws, 'open');
      ws.send('ping');
      const [msg] = await once(ws, 'message');
      assert.equal(String(msg), 'ping');
      assert.equal(h.upstream.lastWsHeaders?.cookie, 'x=1');
      assert.equal(h.upstream.lastWsHeaders?.origin, route.origin);
      assert.equal(h.upstream.lastWsHeaders?.host, route.host);
      ws.close();
      await once(ws, 'close');
      const anon = new WebSocket(`ws://127.0.0.1:${route.port}/ws`, { headers: { host: route.host } });
      anon.on('error', () => {});
      const [, res] = await once(anon, 'unexpected-response');
      assert.equal(res.statusCode, 401);
      anon.terminate();
    });

    test('SSE events arrive one by one before the stream ends', async () => {
      const req = request({
        host: '127.0.0.1',
        port: route.port,
        path: '/sse',
        headers: { host: route.host, cookie },
        agent: false,
      });
      req.end();
      const [res] = await once(req, 'response');
      assert.equal(res.headers['content-type'], 'text/event-stream');
      let buf = '';
      const seen: string[] = [];
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let i = buf.indexOf('\n\n');
        while (i >= 0) {
          seen.push(buf.slice(0, i));
          buf = buf.slice(i + 2);
          i = buf.indexOf('\n\n');
        }
      });
      // The upstream never ends this stream, so these can only arrive if each event is flushed.
      await until(() => seen.length >= 3, 'three SSE events', { timeoutMs: 5000 });
      assert.deepEqual(seen.slice(0, 3), ['data: event 1', 'data: event 2', 'data: event 3']);
      req.destroy();
    });

    test('50 MiB upload and download stream through intact', async () => {
      const size = 50 * MiB;
      const up = request({
        host: '127.0.0.1',
        port: route.port,
        path: '/upload',
        method: 'POST',
        headers: { host: route.host, cookie, 'content-length': size },
        agent: false,
      });
      const sent = createHash('sha256');
      for (const c of pattern(size)) {
        sent.update(c);
        if (!up.write(c)) await once(up, 'drain');
      }
      up.end();
      const [upRes] = await once(up, 'response');
      let body = '';
      for await (const c of upRes) body += c;
      assert.deepEqual(JSON.parse(body), { size, sha256: sent.digest('hex') });

      const down = request({
        host: '127.0.0.1',
        port: route.port,
        path: `/download?bytes=${size}`,
        headers: { host: route.host, cookie },
        agent: false,
      });
      down.end();
      const [downRes] = await once(down, 'response');
      assert.equal(downRes.statusCode, 200);
      const got = createHash('sha256');
      let n = 0;
      for await (const c of downRes) {
        got.update(c);
        n += c.length;
      }
      assert.equal(n, size);
      assert.equal(got.digest('hex'), patternSha256(size));
    });

    test('upstream down ⇒ 502 AP_ERR_UPSTREAM_CONNECT; slow headers ⇒ 504', async () => {
      const dead = await startUpstream();
      const deadPort = dead.port;
      await dead.close();
      const r = await h.addRoute({ backends: [{ host: '127.0.0.1', port: deadPort }] });
      const c = await h.login(r);
      const res = await h.request(r, { cookie: c, headers: { accept: 'application/json' } });
      assert.equal(res.status, 502);
      assert.equal(JSON.parse(res.body.toString()).code, 'AP_ERR_UPSTREAM_CONNECT');

      const slow = await h.request(route, {
        path: '/slow-headers?ms=3000',
        cookie,
        headers: { accept: 'application/json' },
      });
      assert.equal(slow.status, 504);
      assert.equal(JSON.parse(slow.body.toString()).code, 'AP_ERR_UPSTREAM_HEADERS_TIMEOUT');
      const metrics = await h.registry.getSingleMetricAsString('appproxy_worker_upstream_errors_total');
      // With several processes a process's registry counts its own share only (WorkerOptions.processes),
      // and this request may have landed on the child.
      if (processes === 1) assert.match(metrics, /code="AP_ERR_UPSTREAM_CONNECT"\} 1/);
    });
  });
}
