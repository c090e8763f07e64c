/**
 * Sign-in through an OpenID Connect provider and its back-channel logout, in a real browser
 * (Debian's chromium) against the whole embedded system and a real provider (`oidc-provider`) on
 * loopback: the user signs in at the provider, opens the demo app from the signed-in page with a
 * WebSocket echoing, then signs out *at the provider*: the provider's back-channel call ends the
 * login session, the app's WebSocket closes with it and the app asks for a sign-in again.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, skipWithoutChromium } from '../support/browser.ts';
import { startOidcProvider, type TestOidcProvider } from '../support/oidc-provider.ts';
import { until } from '../support/poll.ts';
import { startTestSystem, type TestSystem } from '../support/system.ts';

const CLIENT_ID = 'appproxy-e2e';
const CLIENT_SECRET = 'e2e-client-secret-0123456789';

describe('sign-in with an identity provider and its back-channel logout, in a real browser', {
  skip: skipWithoutChromium,
}, () => {
  let op: TestOidcProvider;
  let t: TestSystem;
  let browser: Browser;
  let dir: string;

  before(async () => {
    op = await startOidcProvider();
    op.accounts.set('ivan', { preferred_username: 'ivan', name: 'Ivan', groups: [] });
    dir = mkdtempSync(join(tmpdir(), 'appproxy-oidc-'));
    const secretFile = join(dir, 'client-secret');
    writeFileSync(secretFile, CLIENT_SECRET, { mode: 0o600 });
    t = await startTestSystem({
      manager: {
        port: 0,
        auth: {
          oidc: {
            issuer: op.issuer,
            clientId: CLIENT_ID,
            clientSecretFile: secretFile,
            label: 'Sign in with the provider',
          },
        },
      },
    });
    op.register({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUri: `${t.url}/login/oidc/callback`,
      backchannelLogoutUri: `${t.url}/v1/auth/oidc/backchannel-logout`,
    });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
    await op?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Through the provider's login and consent forms until the manager's signed-in page. */
  async function signInAtProvider(page: Page): Promise<void> {
    await page.goto(`${t.url}/login`);
    await page.getByRole('link', { name: 'Sign in with the provider' }).click();
    for (let i = 0; i < 6 && !page.url().startsWith(`${t.url}/`); i++) {
      await page.waitForLoadState();
      if (!page.url().startsWith(op.issuer)) break;
      if ((await page.locator('input[name=login]').count()) > 0) {
        await page.fill('input[name=login]', 'ivan');
        await page.fill('input[name=password]', 'anything');
      }
      await Promise.all([page.waitForNavigation(), page.locator('button[type=submit]').first().click()]);
    }
    await page.waitForURL(`${t.url}/`);
    // The console (when built) greets by display name; the plain page says it in full.
    await page.goto(`${t.url}/?plain=1`);
    assert.match(await page.content(), /Signed in as <strong>Ivan<\/strong>/);
  }

  test('provider sign-in → app with a WebSocket → sign-out at the provider closes it', async () => {
    const context = await browser.newContext();
    const home = await context.newPage();
    await signInAtProvider(home);
    await home.selectOption('#template', 'demo');
    await Promise.all([
      home.waitForURL(`${t.url}/?plain=1`),
      home.getByRole('button', { name: 'Start', exact: true }).click(),
    ]);
    await until(
      async () => {
        await home.reload();
        return (await home.getByRole('button', { name: 'Open', exact: true }).count()) > 0 ? true : undefined;
      },
      'the demo session to be RUNNING',
      { timeoutMs: 30_000 },
    );
    const app = await context.newPage();
    await app.goto(`${t.url}/?plain=1`);
    await Promise.all([
      app.waitForURL((u) => !u.href.startsWith(t.url), { timeout: 20_000 }),
      app.getByRole('button', { name: 'Open (subdomain)', exact: true }).first().click(),
    ]);
    const echoed = await app.evaluate(
      () =>
        new Promise<string>((resolve, reject) => {
          const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/ws`);
          (window as unknown as { closedAt: number | null }).closedAt = null;
          ws.onclose = () => {
            (window as unknown as { closedAt: number }).closedAt = Date.now();
          };
          ws.onopen = () => ws.send('hi');
          ws.onmessage = (e) => resolve(String(e.data));
          ws.onerror = () => reject(new Error('websocket failed'));
        }),
    );
    assert.equal(echoed, 'hi');

    // Sign out at the provider (RP-initiated logout there); it calls our back-channel URI.
    const at = await context.newPage();
    await at.goto(`${op.issuer}/session/end?client_id=${CLIENT_ID}`);
    const t0 = Date.now();
    await Promise.all([
      at.waitForLoadState(),
      at.locator('button[autofocus], button[type=submit]').first().click(),
    ]);
    const closedAt = await until(
      async () =>
        (await app.evaluate(() => (window as unknown as { closedAt: number | null }).closedAt)) ?? undefined,
      "the app's WebSocket to close after the provider's back-channel logout",
      { timeoutMs: 10_000 },
    );
    console.log(`# provider sign-out → WebSocket closed after ${closedAt - t0} ms`);
    assert.deepEqual(op.backchannelErrors, [], 'the back-channel call was answered 200');
    const reloaded = await app.reload();
    assert.equal(reloaded?.status(), 401);
    const back = await home.goto(`${t.url}/`);
    assert.match(back?.url() ?? '', /\/login/, 'the manager page asks for a sign-in again');
    const sessions = await t.api('GET', '/v1/login-sessions?user=ivan');
    assert.equal(sessions.body.items[0].endReason, 'idp-logout');
    await context.close();
  });
});
