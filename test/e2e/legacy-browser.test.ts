/**
 * Backend.AI's two-step handshake in a real browser (Debian's chromium via playwright-core): the
 * "manager" side posts `/v2/conf` with the shared secret; a page on another origin does what
 * Backend.AI's WebUI does — fetches `/v2/proxy/auth` (JSON, cross-origin) and navigates to the
 * `redirect_url` — and the app loads behind its cookie, with a WebSocket from the page; for both
 * flows (`integratedFlow` on and off).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium, skipWithoutChromium } from '../support/browser.ts';
import { until } from '../support/poll.ts';
import { startTestSystem, type TestSystem } from '../support/system.ts';
import { startUpstream, type Upstream } from '../support/upstream.ts';

const SECRET = 'bai-browser-secret';
const USER = '8e0c1d2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f';

/** The WebUI's part of the handshake, as a page on its own origin. */
const WEBUI = `<!doctype html><meta charset="utf-8"><title>webui</title><script>
  const q = new URLSearchParams(location.search);
  const url = q.get('coordinator') + '/v2/proxy/auth?' + new URLSearchParams({
    token: q.get('token'), session_id: q.get('session'), app: q.get('app'), protocol: 'http', redirect: '/lab',
  });
  fetch(url, { headers: { accept: 'application/json' } })
    .then((r) => r.json())
    .then((body) => { document.title = 'going'; location.href = body.redirect_url; })
    .catch((e) => { document.title = 'failed: ' + e; });
</script>`;

describe('Backend.AI handshake in a real browser', { skip: skipWithoutChromium }, () => {
  let t: TestSystem;
  let up: Upstream;
  let browser: Browser;
  let webui: Server;
  let webuiOrigin: string;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'appproxy-legacy-browser-'));
    writeFileSync(join(dir, 'secret'), SECRET, { mode: 0o600 });
    up = await startUpstream();
    t = await startTestSystem({ manager: { port: 0, legacy: { apiSecretFile: join(dir, 'secret') } } });
    assert.equal((await t.api('PUT', '/v1/flags/legacyCoordinatorApi', { value: true })).status, 200);
    webui = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(WEBUI));
    await new Promise<void>((r) => webui.listen(0, '127.0.0.1', r));
    webuiOrigin = `http://127.0.0.1:${(webui.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await new Promise((r) => webui?.close(r));
    await t?.close();
    await up?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const integrated of [true, false]) {
    test(`conf → the WebUI page → proxy/auth → setup → the app and its WebSocket (integratedFlow ${integrated ? 'on' : 'off'})`, async () => {
      assert.equal((await t.api('PUT', '/v1/flags/integratedFlow', { value: integrated })).status, 200);
      const session = integrated
        ? '9a000000-0000-4000-8000-000000000001'
        : '9a000000-0000-4000-8000-000000000002';
      const conf = await fetch(`${t.url}/v2/conf`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-backendai-token': SECRET },
        body: JSON.stringify({
          login_session_token: 'webui-login',
          kernel_host: '127.0.0.1',
          kernel_port: up.port,
          session: { id: session, user_uuid: USER, group_id: 'g', access_key: 'AK', domain_name: 'default' },
        }),
      });
      assert.equal(conf.status, 200);
      const { token } = (await conf.json()) as { token: string };

      const context = await browser.newContext();
      const page = await context.newPage();
      const q = new URLSearchParams({ coordinator: t.url, token, session, app: 'jupyter' });
      await page.goto(`${webuiOrigin}/?${q}`);
      await until(
        async () => (/hello from \/lab/.test(await page.content()) ? true : undefined),
        `the app page (title: ${await page.title()})`,
        { timeoutMs: 15_000 },
      );
      const appUrl = new URL(page.url());
      assert.equal(appUrl.pathname, '/lab');
      const cookies = await context.cookies(appUrl.origin);
      const names = cookies.map((c) => c.name);
      if (integrated)
        assert.ok(
          names.some((n) => /^appproxy_[0-9a-f]{32}$/.test(n)),
          names.join(),
        );
      else assert.deepEqual(names, ['appproxy_permit']);
      for (const c of cookies) {
        assert.equal(c.httpOnly, true);
        assert.equal(c.sameSite, 'Lax');
        assert.equal(c.domain, appUrl.hostname, 'host-only');
      }
      const echoed = await page.evaluate(
        () =>
          new Promise<string>((resolve, reject) => {
            const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/ws`);
            ws.onopen = () => ws.send('from the page');
            ws.onmessage = (e) => {
              resolve(String(e.data));
              ws.close();
            };
            ws.onerror = () => reject(new Error('websocket failed'));
          }),
      );
      assert.equal(echoed, 'from the page');
      await context.close();
    });
  }
});
