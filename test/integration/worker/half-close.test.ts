/**
 * A client that sends a whole request and then half-closes its socket (FIN, as `nc -N` and some
 * HTTP/1.0 tools do) still gets its answer, as nginx gives it; the worker then closes.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { type Route, WorkerHarness } from './harness.ts';

let h: WorkerHarness;
let route: Route;
let cookie: string;

before(async () => {
  h = await WorkerHarness.start({ mode: 'port' });
  route = await h.addRoute();
  cookie = await h.login(route);
});
after(() => h?.close());

test('a half-closed client gets the whole response', async () => {
  const answer = await new Promise<string>((resolve, reject) => {
    const s = connect(route.port, '127.0.0.1', () => {
      s.end(`GET / HTTP/1.1\r\nHost: ${route.host}\r\nCookie: ${cookie}\r\n\r\n`);
    });
    let data = '';
    s.setEncoding('latin1');
    s.on('data', (c: string) => {
      data += c;
    });
    s.on('end', () => resolve(data));
    s.on('error', reject);
  });
  assert.match(answer, /^HTTP\/1\.1 200 /);
});
