/**
 * The README's walk-through as a test: a user signs in with a browser (the manager's form, a cookie
 * jar), approves a CLI sign-in from it (the real `appproxy tunnel` then runs with that CLI's
 * secret), opens a tunnel to a TCP service, and signs out in the browser: the CLI's login session
 * ends with the browser's and the tunnelled connection closes with `revoked`; the admin's API shows
 * both login sessions ended with reason `logout`.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { newRecipient } from '../../src/core/sealed-box.ts';
import { until } from '../support/poll.ts';
import { startTestSystem, type TestSystem, waitRunning } from '../support/system.ts';
import { startTunnelProcess } from './tunnel-process.ts';

/** A browser, reduced to what the manager's pages need: a cookie jar and form posts. */
class Jar {
  readonly cookies = new Map<string, string>();
  constructor(private readonly base: string) {}

  private absorb(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      if (/Max-Age=0/i.test(c)) this.cookies.delete(pair!.slice(0, eq));
      else this.cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
  }

  async get(path: string): Promise<{ status: number; body: string; location: string | null }> {
    const res = await fetch(`${this.base}${path}`, { headers: this.header(), redirect: 'manual' });
    this.absorb(res);
    return { status: res.status, body: await res.text(), location: res.headers.get('location') };
  }

  async post(
    path: string,
    form: Record<string, string>,
  ): Promise<{ status: number; location: string | null }> {
    const res = await fetch(`${this.base}${path}`, {
      method: 'POST',
      headers: { ...this.header(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
      redirect: 'manual',
    });
    this.absorb(res);
    return { status: res.status, location: res.headers.get('location') };
  }

  private header(): Record<string, string> {
    return { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
  }
}

const csrfOf = (body: string) => /name="_csrf" value="([^"]+)"/.exec(body)![1]!;

describe('signing out in the browser signs the CLI out and cuts its tunnel', () => {
  let t: TestSystem;
  before(async () => {
    t = await startTestSystem();
    assert.equal((await t.api('POST', '/v1/users', { name: 'judy', password: 'judy-password' })).status, 201);
  });
  after(async () => {
    await t?.close();
  });

  test('browser sign-in → CLI approved from it → tunnel → browser sign-out', async () => {
    const browser = new Jar(t.url);
    const form = await browser.get('/login');
    const signedIn = await browser.post('/login', {
      _csrf: csrfOf(form.body),
      name: 'judy',
      password: 'judy-password',
    });
    assert.equal(signedIn.status, 303);

    // `appproxy login`: codes, the approval in the signed-in browser, the sealed secret.
    const recipient = newRecipient();
    const start = await fetch(`${t.url}/v1/auth/cli-login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ publicKey: recipient.publicKey }),
    }).then((r) => r.json());
    const page = await browser.get(
      new URL(start.verificationUriComplete).pathname + new URL(start.verificationUriComplete).search,
    );
    assert.equal(page.status, 200, page.body);
    assert.equal(
      (await browser.post('/cli-login', { _csrf: csrfOf(page.body), code: start.userCode })).status,
      200,
    );
    const polled = await fetch(`${t.url}/v1/auth/cli-login/poll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ deviceCode: start.deviceCode }),
    }).then((r) => r.json());
    assert.equal(polled.state, 'approved');
    const cli = recipient.open(polled.sealedToken);

    const created = await t.api('POST', '/v1/sessions', { template: 'demo', name: 'judys' }, cli);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await waitRunning({ ...t, api: (m, p, b) => t.api(m, p, b, cli) }, created.body.id);
    const tunnel = await startTunnelProcess({ url: t.url, token: cli }, ['judys', 'echo']);
    const s = connect({ host: '127.0.0.1', port: tunnel.port });
    await once(s, 'connect');
    s.write('ping');
    assert.equal(String((await once(s, 'data'))[0]), 'ping');
    const closed = once(s, 'close');

    const home = await browser.get('/?plain=1');
    const t0 = Date.now();
    const out = await browser.post('/logout', { _csrf: csrfOf(home.body) });
    assert.equal(out.status, 303);
    await closed;
    console.log(`# browser sign-out → the CLI's tunnelled connection closed after ${Date.now() - t0} ms`);
    await until(
      () => (/closed \(revoked\)/.test(tunnel.stderr) ? true : undefined),
      'the tunnel to say `revoked`',
      {
        timeoutMs: 5000,
      },
    );
    assert.equal(
      (await t.api('GET', '/v1/auth/whoami', undefined, cli)).status,
      401,
      'the CLI is signed out too',
    );
    const sessions = await t.api('GET', '/v1/login-sessions?user=judy');
    const kinds = sessions.body.items
      .map((l: { kind: string; endReason: string }) => `${l.kind}:${l.endReason}`)
      .sort();
    assert.deepEqual(kinds, ['cli:logout', 'password:logout']);
    await tunnel.interrupt().catch(() => {});
  });
});
