/**
 * How the worker keeps its revocation set current and what it does when it cannot (real worker,
 * embedded KV with its outage hook): the confirmation loop heals a missed watch event; KV away past
 * the staleness bound makes old cookies `AP_ERR_APP_COOKIE_UNCONFIRMED` and `/readyz` degraded
 * until KV returns (fail closed). Also the worker's logout (`next` followed only when it is a
 * same-origin path or a continuation the manager signed), the sign-in links of its pages, and a
 * revocation reaching a data-plane child process.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { counterKeys } from '../../../src/contracts/activity.ts';
import { kvKeys } from '../../../src/contracts/kv-layout.ts';
import { SetupTokenIssuer } from '../../../src/core/setup-token.ts';
import { EmbeddedKvStore } from '../../../src/stores/embedded/kv.ts';
import { until } from '../../support/poll.ts';
import { type Route, WorkerHarness } from './harness.ts';

const JSON_ACCEPT = { accept: 'application/json' };
const STALE_AFTER_MS = 600;

async function codeOf(h: WorkerHarness, route: Route, cookie: string): Promise<string | number> {
  const res = await h.request(route, { cookie, headers: JSON_ACCEPT });
  return res.status === 200 ? 200 : (JSON.parse(res.body.toString()) as { code: string }).code;
}

describe('the confirmation loop', () => {
  let h: WorkerHarness;
  before(async () => {
    // A KV whose watch never delivers revocation events: only the confirmation loop can bring them.
    const kv = new EmbeddedKvStore();
    const watch = kv.watch.bind(kv);
    kv.watch = (prefix, afterRevision, handlers) =>
      watch(
        prefix,
        afterRevision,
        prefix === kvKeys.revocations() ? { ...handlers, onEvents: () => {} } : handlers,
      );
    h = await WorkerHarness.start({
      mode: 'port',
      kv,
      worker: { revocationStaleAfterMs: STALE_AFTER_MS, revocationConfirmIntervalMs: 50 },
    });
  });
  after(async () => {
    h.kv.setUnavailable(false);
    await h.close();
  });

  test('heals a missed watch event', async () => {
    const route = await h.addRoute();
    const cookie = await h.login(route, { grant: { l: 'login-missed' } });
    assert.equal(await codeOf(h, route, cookie), 200);
    const confirmations = h.worker.status().revocations.confirmations;
    await h.revoke({ kind: 'login-session', subject: 'login-missed' });
    assert.ok(h.worker.status().revocations.confirmations > confirmations, 'a confirmation read brought it');
    assert.equal(h.worker.status().revocations.records, 1);
    assert.equal(await codeOf(h, route, cookie), 'AP_ERR_APP_COOKIE_REVOKED');
  });

  test('KV away past the bound: old cookies unconfirmed, /readyz degraded; fresh cookies work; all back with KV', async () => {
    const route = await h.addRoute();
    const old = await h.login(route, { grant: { l: 'login-old' } });
    const issued = Date.now();
    await until(() => h.worker.status().revocations.confirmedAt > issued, 'a confirmation after the cookie', {
      timeoutMs: 5000,
    });
    assert.equal((await h.worker.readiness()).status, 'ready');

    h.kv.setUnavailable(true);
    // Within the bound the old cookie still works (static stability for short outages)…
    assert.equal(await codeOf(h, route, old), 200);
    // …past it, the worker cannot know whether it was revoked meanwhile: refused.
    const r = await until(
      async () => {
        const r = await h.worker.readiness();
        return r.revocations.stale ? r : undefined;
      },
      'the revocation set to go stale',
      { timeoutMs: 5000 },
    );
    assert.equal(r.status, 'degraded');
    assert.equal(await codeOf(h, route, old), 'AP_ERR_APP_COOKIE_UNCONFIRMED');
    // A cookie from a setup link minted now (after the last confirmation) works.
    const fresh = await h.login(route, { grant: { l: 'login-new' } });
    assert.equal(await codeOf(h, route, fresh), 200);

    h.kv.setUnavailable(false);
    await until(async () => !(await h.worker.readiness()).revocations.stale, 'confirmed again', {
      timeoutMs: 5000,
    });
    assert.equal(await codeOf(h, route, old), 200);
    assert.equal((await h.worker.readiness()).status, 'ready');
  });
});

describe('logout and sign-in links', () => {
  let h: WorkerHarness;
  let route: Route;
  const LOGIN_URL = 'http://manager.test:7070/login';
  before(async () => {
    h = await WorkerHarness.start({ mode: 'wildcard' });
    route = await h.addRoute();
    await h.kv.put(
      kvKeys.managerInfo(),
      JSON.stringify({ publicUrl: 'http://manager.test:7070', loginUrl: LOGIN_URL }),
    );
  });
  after(() => h.close());

  async function logout(next: string | null, cookie?: string) {
    const q = next === null ? '' : `?next=${encodeURIComponent(next)}`;
    return h.request(route, { path: `/_appproxy/logout${q}`, ...(cookie ? { cookie } : {}) });
  }

  function clears(res: { headers: Record<string, unknown> }, cookie: string): void {
    const name = cookie.split('=')[0]!;
    const set = (res.headers['set-cookie'] as string[]).join('\n');
    assert.match(set, new RegExp(`${name}=; Max-Age=0`), 'the app cookie is cleared');
  }

  test('401 pages link to the manager’s sign-in page once it is known', async () => {
    const html = await until(
      async () => {
        const res = await h.request(route, { headers: { accept: 'text/html' } });
        return res.status === 401 && res.body.toString().includes(LOGIN_URL)
          ? res.body.toString()
          : undefined;
      },
      'a sign-in link on the 401 page',
      { timeoutMs: 5000 },
    );
    assert.match(html, /<a href="http:\/\/manager\.test:7070\/login">Sign in again<\/a>/);
    const json = await h.request(route, { headers: JSON_ACCEPT });
    assert.deepEqual(JSON.parse(json.body.toString()).detail, { loginUrl: LOGIN_URL });
  });

  test('a signed continuation is followed; a same-origin path too', async () => {
    const cookie = await h.login(route);
    const target = 'http://manager.test:7070/logout/walk?state=abc';
    const res = await logout(await h.issuer.issueLogoutNext(target), cookie);
    assert.equal(res.status, 302);
    assert.equal(res.headers.location, target);
    clears(res, cookie);
    const local = await logout('/bye', cookie);
    assert.equal(local.status, 302);
    assert.equal(local.headers.location, '/bye');
  });

  test('unsigned absolute, protocol-relative and other manager-like targets are never followed', async () => {
    const cookie = await h.login(route);
    const foreign = (await SetupTokenIssuer.generate()).issuer;
    const refused = [
      'http://manager.test:7070/logout/walk?state=abc',
      'https://evil.example/',
      '//evil.example/x',
      '/\\evil.example',
      await foreign.issueLogoutNext('http://manager.test:7070/logout/walk'),
      await h.token(route),
    ];
    for (const next of refused) {
      const res = await logout(next, cookie);
      assert.equal(res.status, 200, next);
      assert.equal(res.headers.location, undefined, next);
      clears(res, cookie);
      assert.match(res.body.toString(), /Signed out of this app/);
    }
    const page = (await logout(null, cookie)).body.toString();
    assert.ok(page.includes(`href="${LOGIN_URL}"`), 'the signed-out page offers to sign in again');
  });
});

describe('several data-plane processes', () => {
  let h: WorkerHarness;
  before(async () => {
    h = await WorkerHarness.start({ mode: 'port', worker: { processes: 2 } });
  });
  after(() => h.close());

  async function openByProcess(route: Route): Promise<number[]> {
    const out: number[] = [];
    for (const pid of h.worker.processIds()) {
      const v = await h.counters.get(counterKeys.openConnections(route.spec.id, `${h.authority}:${pid}`));
      out.push(Number(v ?? 0));
    }
    return out;
  }

  function status(route: Route, cookie: string): Promise<number> {
    return new Promise((resolve) => {
      const s = connect(route.port, '127.0.0.1');
      let data = '';
      s.on('data', (d) => {
        data += d.toString('latin1');
      });
      s.on('error', () => resolve(0));
      s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1] ?? 0)));
      s.write(`GET / HTTP/1.1\r\nhost: ${route.host}\r\ncookie: ${cookie}\r\nconnection: close\r\n\r\n`);
    });
  }

  test('a revocation closes the WebSockets every process serves and refuses the cookie in each', async () => {
    const route = await h.addRoute({ idleTimeoutMs: 60_000 });
    const cookie = await h.login(route, { grant: { l: 'login-mp' } });
    const otherCookie = await h.login(route, { grant: { l: 'login-mp-2' } });
    const open = (c: string) =>
      new WebSocket(`ws://127.0.0.1:${route.port}/ws`, { headers: { host: route.host, cookie: c } });
    const revoked = Array.from({ length: 16 }, () => open(cookie));
    const kept = open(otherCookie);
    await Promise.all([...revoked, kept].map((ws) => once(ws, 'open')));
    const counts = await until(
      async () => {
        const o = await openByProcess(route);
        return o.reduce((a, b) => a + b, 0) >= 17 ? o : undefined;
      },
      'open connections reported by both processes',
      { timeoutMs: 5000 },
    );
    assert.ok(counts[1]! > 0, `the child serves some: ${counts}`);
    const closed = revoked.map((ws) => once(ws, 'close').then(([code, reason]) => [code, String(reason)]));

    await h.revoke({ kind: 'login-session', subject: 'login-mp' });

    for (const c of await Promise.all(closed)) assert.deepEqual(c, [1001, 'revoked']);
    kept.send('hi');
    assert.equal(String((await once(kept, 'message'))[0]), 'hi');
    const answers = await Promise.all(Array.from({ length: 16 }, () => status(route, cookie)));
    assert.deepEqual(new Set(answers), new Set([401]), 'every process refuses the cookie');
    kept.close();
  });

  test('the logoutRevocation flag reaches every process: off, the revoked cookie works in each; back on, refused and its connections closed', async () => {
    const route = await h.addRoute({ idleTimeoutMs: 60_000 });
    const cookie = await h.login(route, { grant: { l: 'login-flag' } });
    await h.revoke({ kind: 'login-session', subject: 'login-flag' });
    const answers = () => Promise.all(Array.from({ length: 20 }, () => status(route, cookie)));
    await until(async () => (await answers()).every((a) => a === 401), 'the cookie refused', {
      timeoutMs: 5000,
    });

    const flag = kvKeys.flagOverride('logoutRevocation', `worker:${h.authority}`);
    await h.kv.put(flag, JSON.stringify({ value: false }));
    // 20 fresh connections spread over both processes: all served only once each has the flag.
    await until(async () => (await answers()).every((a) => a === 200), 'every process to serve it', {
      timeoutMs: 5000,
    });
    const open = Array.from(
      { length: 12 },
      () => new WebSocket(`ws://127.0.0.1:${route.port}/ws`, { headers: { host: route.host, cookie } }),
    );
    await Promise.all(open.map((ws) => once(ws, 'open')));
    const counts = await until(
      async () => {
        const o = await openByProcess(route);
        return o.reduce((a, b) => a + b, 0) >= 12 ? o : undefined;
      },
      'open connections reported',
      { timeoutMs: 5000 },
    );
    assert.ok(counts[0]! > 0 && counts[1]! > 0, `both processes serve some: ${counts}`);
    const closed = open.map((ws) => once(ws, 'close').then(([code, reason]) => [code, String(reason)]));

    await h.kv.delete(flag);
    for (const c of await Promise.all(closed)) assert.deepEqual(c, [1001, 'revoked']);
    assert.deepEqual(new Set(await answers()), new Set([401]), 'every process refuses it again');
  });
});
