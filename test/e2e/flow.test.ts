/**
 * The whole interactive-app flow on the embedded system, through both frontend modes, with the
 * real worker, the real local agent and the demo app as separate processes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { CookieJar, followSetup, request } from '../support/http.ts';
import { until } from '../support/poll.ts';
import { runningSession, startTestSystem, type TestSystem } from '../support/system.ts';

const MiB = 1024 * 1024;

/** A deterministic 50 MiB body streamed in chunks (never held in memory whole). */
function bigBody(bytes: number): { stream: Readable; sha256: Promise<string> } {
  const hash = createHash('sha256');
  let sent = 0;
  let resolve!: (h: string) => void;
  const sha256 = new Promise<string>((r) => {
    resolve = r;
  });
  const chunk = Buffer.alloc(256 * 1024);
  const stream = new Readable({
    read() {
      if (sent >= bytes) {
        resolve(hash.digest('hex'));
        this.push(null);
        return;
      }
      const n = Math.min(chunk.length, bytes - sent);
      chunk.fill(sent % 251, 0, n);
      const c = Buffer.from(chunk.subarray(0, n));
      hash.update(c);
      sent += n;
      this.push(c);
    },
  });
  return { stream, sha256 };
}

/** The status of a GET, or 'refused' when nothing listens there any more. */
async function probe(url: string, jar: CookieJar): Promise<number | 'refused'> {
  try {
    return (await request(url, { jar, headers: { accept: 'application/json' } })).status;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') return 'refused';
    throw err;
  }
}

function wsUrl(appUrl: string, path: string): string {
  return appUrl.replace(/^http/, 'ws').replace(/\/$/, '') + path;
}

function openWs(appUrl: string, path: string, jar: CookieJar): WebSocket {
  const u = new URL(appUrl);
  const cookie = jar.header(u.origin);
  const target = wsUrl(appUrl, path).replace(/\/\/[^/]*\.localhost(:\d+)/, '//127.0.0.1$1');
  return new WebSocket(target, { headers: { host: u.host, ...(cookie ? { cookie } : {}) } });
}

for (const frontend of ['port', 'wildcard'] as const) {
  describe(`interactive app through a ${frontend}-mode worker`, () => {
    let t: TestSystem;
    let session: any;
    let start: any;
    const jar = new CookieJar();

    before(async () => {
      t = await startTestSystem();
      session = await runningSession(t, 'demo');
    });
    after(async () => {
      await t?.close();
    });

    test('start-service answers with a served route, and setup sets the app cookie', async () => {
      const t0 = performance.now();
      const r = await t.api('POST', `/v1/sessions/${session.id}/start-service`, { service: 'web', frontend });
      const startMs = performance.now() - t0;
      assert.equal(r.status, 200, JSON.stringify(r.body));
      start = r.body;
      assert.equal(start.reused, false);
      if (frontend === 'wildcard')
        assert.match(start.appUrl, /^http:\/\/[0-9a-f]{6}\.apps\.localhost:\d+\/$/);
      else assert.match(start.appUrl, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      // No 404 race: the route answers (401 without a cookie) the moment start-service returns.
      const before = await request(start.appUrl, { headers: { accept: 'application/json' } });
      assert.equal(before.status, 401);
      assert.equal(JSON.parse(before.text).code, 'AP_ERR_APP_COOKIE_MISSING');
      const s = await followSetup(start.setupUrl, jar);
      assert.equal(s.status, 302);
      assert.equal(s.location, '/');
      const page = await request(start.appUrl, { jar });
      assert.equal(page.status, 200);
      assert.match(page.text, /AppProxy demo/);
      console.log(`# start-service (${frontend}) answered in ${startMs.toFixed(1)} ms`);
    });

    test('a second start-service re-uses the live circuit', async () => {
      const r = await t.api('POST', `/v1/sessions/${session.id}/start-service`, { service: 'web', frontend });
      assert.equal(r.status, 200);
      assert.equal(r.body.circuitId, start.circuitId);
      assert.equal(r.body.reused, true);
    });

    test('WebSocket echo', async () => {
      const ws = openWs(start.appUrl, '/ws', jar);
      await once(ws, 'open');
      ws.send('hello through the proxy');
      const [msg] = await once(ws, 'message');
      assert.equal(String(msg), 'hello through the proxy');
      ws.close();
    });

    test('SSE events arrive one by one, unbuffered', async () => {
      const u = new URL(start.appUrl);
      const http = await import('node:http');
      const arrivals: number[] = [];
      await new Promise<void>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port: Number(u.port),
            path: '/sse?count=4',
            headers: { host: u.host, cookie: jar.header(u.origin)!, accept: 'text/event-stream' },
          },
          (res) => {
            assert.equal(res.statusCode, 200);
            assert.match(String(res.headers['content-type']), /text\/event-stream/);
            res.on('data', (c: Buffer) => {
              // Numbered events carry an id; the closing `event: end` does not.
              for (const _ of String(c).matchAll(/^id:/gm)) arrivals.push(performance.now());
            });
            res.on('end', resolve);
          },
        );
        req.on('error', reject);
        req.end();
      });
      assert.equal(arrivals.length, 4);
      // The app sends an event every 200 ms; a buffering proxy would deliver them together.
      assert.ok(
        arrivals[3]! - arrivals[0]! > 300,
        `events arrived together: ${arrivals.map((a) => a - arrivals[0]!)}`,
      );
    });

    test('50 MiB upload and download keep their sha256', async () => {
      const up = bigBody(50 * MiB);
      const r = await request(`${start.appUrl}upload`, {
        method: 'POST',
        jar,
        body: up.stream,
        headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' },
      });
      assert.equal(r.status, 200, r.text);
      const answer = JSON.parse(r.text);
      assert.equal(answer.bytes, 50 * MiB);
      assert.equal(answer.sha256, await up.sha256);

      const d = await request(`${start.appUrl}download?bytes=${50 * MiB}`, { jar, hashBody: true });
      assert.equal(d.status, 200);
      assert.equal(d.bytes, 50 * MiB);
      assert.equal(d.sha256, d.headers['x-sha256']);
    });

    test('terminating the session closes the address and its open WebSocket', async () => {
      const ws = openWs(start.appUrl, '/ws', jar);
      await once(ws, 'open');
      const closed = once(ws, 'close');
      const t0 = performance.now();
      const del = await t.api('DELETE', `/v1/sessions/${session.id}`);
      assert.equal(del.status, 202);
      assert.equal(del.body.state, 'TERMINATING');
      await until(async () => (await probe(start.appUrl, jar)) !== 200, 'the address to refuse', {
        timeoutMs: 1000,
        intervalMs: 5,
      });
      const refusedMs = performance.now() - t0;
      await closed;
      const wsClosedMs = performance.now() - t0;
      // Port mode: the circuit's listener is gone (connection refused); wildcard: the host is unknown.
      const after = await probe(start.appUrl, jar);
      if (frontend === 'port') assert.equal(after, 'refused');
      else assert.ok(after === 404 || after === 410, `status ${after}`);
      const s = await until(
        async () => {
          const g = await t.api('GET', `/v1/sessions/${session.id}`);
          return g.body.state === 'TERMINATED' ? g.body : undefined;
        },
        'the session to be TERMINATED',
        { timeoutMs: 10_000 },
      );
      assert.equal(s.state, 'TERMINATED');
      const c = await t.api('GET', `/v1/circuits/${start.circuitId}`);
      assert.equal(c.body.state, 'CLOSED');
      console.log(
        `# terminate (${frontend}): refused after ${refusedMs.toFixed(1)} ms, WebSocket closed after ${wsClosedMs.toFixed(1)} ms`,
      );
    });
  });
}
