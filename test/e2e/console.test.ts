/**
 * The web console in a real browser (Debian's chromium through playwright-core) over the built
 * console (console/dist, `npm run build:console`; `npm test` builds it first) and a real embedded
 * system: sign in → start the demo → watch it become RUNNING → open its web app in port and
 * wildcard mode → see the circuit's bytes move → a circuit opened with a 5 s idle timeout counts
 * down, closes, and its event shows → delete the session → sign out. A user does not see another
 * user's sessions; an admin drains and undrains a worker from the Workers page. axe-core, run in
 * the page, finds no serious or critical violation on any page; screenshots of every page at
 * 1280 px and 390 px go to test-results/console/ (not committed).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CONSOLE_DIST } from '../../src/manager/http/console.ts';
import { launchChromium, skipWithoutChromium } from '../support/browser.ts';
import { startSim } from '../support/llm-sim.ts';
import { until } from '../support/poll.ts';
import { startTestSystem, type TestSystem } from '../support/system.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const SHOTS = join(ROOT, 'test-results', 'console');
const AXE = readFileSync(join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
const skip =
  skipWithoutChromium ||
  (existsSync(join(CONSOLE_DIST, 'index.html')) ? false : 'the console is not built (npm run build:console)');

describe('web console, in a real browser', { skip }, () => {
  let t: TestSystem;
  let browser: Browser;

  before(async () => {
    t = await startTestSystem();
    for (const [name, role] of [
      ['alice', 'user'],
      ['bob', 'user'],
      ['olga', 'admin'],
    ] as const) {
      const u = await t.api('POST', '/v1/users', { name, password: `${name}-password-1`, role });
      assert.equal(u.status, 201, JSON.stringify(u.body));
    }
    browser = await launchChromium();
    mkdirSync(SHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  /** A new browser signed in as `name` on the manager's sign-in page; the console loaded. */
  async function signIn(
    name: string,
    width = 1280,
  ): Promise<{ ctx: BrowserContext; page: Page; loadMs: number; live: Promise<unknown> }> {
    const ctx = await browser.newContext({ viewport: { width, height: 900 } });
    const page = await ctx.newPage();
    // The console's live channel: one event stream, open while the console is.
    const live = page.waitForResponse(
      (r) => new URL(r.url()).pathname === '/v1/events/stream' && r.status() === 200,
      { timeout: 20_000 },
    );
    live.catch(() => {});
    await page.goto(`${t.url}/login`);
    await page.fill('#name', name);
    await page.fill('#password', `${name}-password-1`);
    const t0 = Date.now();
    await Promise.all([page.waitForURL(`${t.url}/`), page.click('button.primary')]);
    await page.getByRole('heading', { level: 1, name: 'Sessions' }).waitFor();
    return { ctx, page, loadMs: Date.now() - t0, live };
  }

  /** axe-core in the page: serious and critical violations (none expected). */
  async function accessibility(page: Page, what: string): Promise<void> {
    const violations = (await page.evaluate(`${AXE}
      axe.run(document, { resultTypes: ['violations'] }).then((r) =>
        r.violations
          .filter((v) => v.impact === 'serious' || v.impact === 'critical')
          .map((v) => v.id + ': ' + v.help + ' (' + v.nodes.map((n) => n.target.join(' ')).join('; ') + ')'))`)) as string[];
    assert.deepEqual(violations, [], `${what}: ${violations.join('\n')}`);
  }

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  }

  test('sign in, start the demo, open its app both ways, watch it, an idle countdown to its close, delete, sign out', async (tc) => {
    const { ctx, page, loadMs, live } = await signIn('alice');
    tc.diagnostic(`sign-in click → console's Sessions page rendered: ${loadMs} ms`);
    const stream = (await live) as { headers(): Record<string, string> };
    assert.match(stream.headers()['content-type'] ?? '', /^text\/event-stream/);
    await accessibility(page, 'sessions (empty)');
    await page.getByText('No session here').waitFor();

    // Start the demo; the console goes to its page and shows it starting, then running.
    await page.getByLabel('Template').first().selectOption('demo');
    await page.getByLabel(/^Name/).fill('walk');
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: /walk/ }).waitFor();
    await page.locator('h1 .badge', { hasText: 'running' }).waitFor({ timeout: 30_000 });
    await accessibility(page, 'session page');

    // The tcp service, as raw TCP from an allow-list: its address shows, and an echo answers there.
    await page.getByLabel(/^Or raw TCP from/).fill('127.0.0.1/32');
    await page.getByRole('button', { name: 'Allow echo' }).click();
    const opened = await page.getByRole('status').filter({ hasText: 'for those addresses' }).textContent();
    const port = Number(/:(\d+)/.exec(opened ?? '')?.[1]);
    assert.ok(port > 0, `an address: ${opened}`);
    const echoed = await new Promise<string>((resolve, reject) => {
      const sock = connect(port, '127.0.0.1', () => sock.write('ping'));
      sock.once('data', (d) => {
        resolve(String(d));
        sock.destroy();
      });
      sock.once('error', reject);
    });
    assert.equal(echoed, 'ping');
    // Its allow-list changed in place from the circuit's card: a connection from an address the
    // new list leaves out is closed at once.
    const held = connect(port, '127.0.0.1');
    await once(held, 'connect');
    const heldClosed = once(held, 'close');
    const access = page.getByRole('form', { name: 'Access to echo' });
    await access.getByLabel(/^Allow raw TCP from/).fill('10.0.0.0/8');
    await access.getByRole('button', { name: 'Save access' }).click();
    await access.getByRole('status').waitFor();
    await Promise.race([
      heldClosed,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('the held connection stayed open')), 5000),
      ),
    ]);
    await access.getByText('Raw TCP allowed from 10.0.0.0/8').waitFor();

    // Open the web app in a port of its own, then on a host name of its own: a new tab each.
    const appAddress = page.getByLabel(/^Address/);
    for (const [mode, label] of [
      ['port', 'a port of its own'],
      ['wildcard', 'a host name of its own'],
    ] as const) {
      await appAddress.selectOption({ label });
      const [tab] = await Promise.all([
        ctx.waitForEvent('page'),
        page.getByRole('button', { name: 'Open web' }).click(),
      ]);
      await tab.waitForURL((u) => !u.href.startsWith(t.url) && u.protocol.startsWith('http'), {
        timeout: 20_000,
      });
      await tab.waitForLoadState('load');
      assert.match(await tab.title(), /AppProxy demo/, `${mode}: the demo app`);
      await tab.close();
    }
    // Both circuits show, with the bytes the app pages moved.
    await until(
      async () => (await page.locator('article.circuit').count()) >= 3 || undefined,
      'three open circuits (tcp, port, wildcard)',
      { timeoutMs: 15_000 },
    );
    await until(
      async () => {
        const out = await page.locator('[data-testid=bytes-out]').allTextContents();
        return out.some((b) => b !== '0 B') || undefined;
      },
      'bytes from the app shown',
      { timeoutMs: 15_000 },
    );
    await shot(page, 'session-1280');

    // All closed from the console (the tcp one too); then the web app opened again with a 5 s idle timeout: its new
    // circuit counts down and closes by itself.
    for (let n = await page.locator('article.circuit').count(); n > 0; n--) {
      await page.getByRole('button', { name: 'Close', exact: true }).first().click();
      await page.getByRole('button', { name: 'Yes, close' }).click();
      await until(
        async () => (await page.locator('article.circuit').count()) === n - 1 || undefined,
        'a circuit closed from the console',
        { timeoutMs: 15_000 },
      );
    }
    await page.getByLabel(/Close an app opened now after it is idle/).fill('5');
    await appAddress.selectOption({ label: 'a port of its own' });
    const [tab] = await Promise.all([
      ctx.waitForEvent('page'),
      page.getByRole('button', { name: 'Open web' }).click(),
    ]);
    await tab.waitForURL((u) => !u.href.startsWith(t.url) && u.protocol.startsWith('http'), {
      timeout: 20_000,
    });
    await tab.close();
    const idle = await until(
      async () => {
        const now = await t.api('GET', `/v1/circuits?state=ACTIVE`, undefined);
        return now.body.items.find(
          (c: { idle: { circuitIdleTimeoutMs: number | null } }) => c.idle.circuitIdleTimeoutMs === 5000,
        );
      },
      'the circuit with a 5 s idle timeout',
      { timeoutMs: 10_000 },
    );
    const card = page.locator('article.circuit', { hasText: idle.appUrl });
    await card.getByTestId('countdown').first().waitFor({ timeout: 10_000 });
    const shown = await card.getByTestId('countdown').first().textContent();
    assert.match(shown ?? '', /^in \d+ s$/, `countdown ${shown}`);
    await card.waitFor({ state: 'detached', timeout: 30_000 });
    await page
      .locator('.timeline li', { hasText: 'circuit-idle-closed' })
      .first()
      .waitFor({ timeout: 10_000 });

    // Delete the session (with its confirmation), then sign out.
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('button', { name: 'Yes, delete' }).click();
    await page.locator('h1 .badge', { hasText: /terminat/ }).waitFor({ timeout: 30_000 });
    await Promise.all([
      page.waitForURL(/\/login\?signed_out=1$/, { timeout: 20_000 }),
      page.getByRole('button', { name: 'Sign out' }).first().click(),
    ]);
    await ctx.close();
  });

  test("a user does not see another user's sessions", async () => {
    const { ctx: bctx, page: bob } = await signIn('bob');
    await bob.getByLabel('Template').first().selectOption('demo');
    await bob.getByLabel(/^Name/).fill('bob-only');
    await bob.getByRole('button', { name: 'Start', exact: true }).click();
    await bob.getByRole('heading', { level: 1, name: /bob-only/ }).waitFor();
    const bobSessionUrl = bob.url();
    await bctx.close();

    const { ctx, page } = await signIn('alice');
    await page.getByRole('heading', { level: 2, name: 'Your sessions' }).waitFor();
    await page.waitForTimeout(500);
    assert.equal(await page.getByRole('link', { name: 'bob-only' }).count(), 0);
    await page.goto(bobSessionUrl);
    await page.getByRole('alert').waitFor();
    assert.match((await page.getByRole('alert').textContent()) ?? '', /AP_ERR_SESSION_NOT_FOUND/);
    await ctx.close();

    // An admin sees everyone's, each with its owner's name, and filters by user.
    const { ctx: octx, page: olga } = await signIn('olga');
    await olga.getByRole('heading', { level: 2, name: 'All sessions' }).waitFor();
    const row = olga.getByRole('row').filter({ has: olga.getByRole('link', { name: 'bob-only' }) });
    await row.getByRole('cell', { name: 'bob', exact: true }).waitFor();
    const owner = olga.getByLabel('Owner');
    await until(async () => (await owner.locator('option').allTextContents()).includes('bob'), 'bob listed', {
      timeoutMs: 5000,
    });
    await owner.selectOption({ label: 'alice' });
    await olga.getByRole('link', { name: 'bob-only' }).waitFor({ state: 'detached' });
    await owner.selectOption({ label: 'bob' });
    await olga.getByRole('link', { name: 'bob-only' }).waitFor();
    await octx.close();
  });

  test('an admin drains and undrains a worker, and turns a feature flag off and back, from the Workers page', async () => {
    const { ctx, page } = await signIn('olga');
    await page.getByRole('link', { name: 'Workers' }).click();
    await page.getByRole('heading', { level: 1, name: 'Workers' }).waitFor();
    await accessibility(page, 'workers');
    await page.getByRole('button', { name: 'Drain port-1' }).click();
    await page.getByRole('button', { name: 'Undrain port-1' }).waitFor();
    const w = await t.api('GET', '/v1/workers');
    assert.equal(w.body.items.find((x: { authority: string }) => x.authority === 'port-1').draining, true);
    await page.getByRole('button', { name: 'Undrain port-1' }).click();
    await page.getByRole('button', { name: 'Drain port-1' }).waitFor();
    const w2 = await t.api('GET', '/v1/workers');
    assert.equal(w2.body.items.find((x: { authority: string }) => x.authority === 'port-1').draining, false);

    // A feature flag turned off from the same page (confirmed), shown with who did it, then reset.
    const row = page.getByRole('row').filter({ hasText: 'endpointRetries' });
    await row.getByRole('button', { name: 'Turn off' }).click();
    await row.getByRole('button', { name: 'Yes, turn off' }).click();
    await row.getByRole('button', { name: 'Reset endpointRetries' }).waitFor();
    const flag = await t.api('GET', '/v1/flags/endpointRetries');
    assert.equal(flag.body.value, false);
    await page
      .getByRole('listitem')
      .filter({ hasText: 'endpointRetries' })
      .filter({ hasText: 'by olga' })
      .waitFor();
    await accessibility(page, 'workers with a flag changed');
    await row.getByRole('button', { name: 'Reset endpointRetries' }).click();
    await row.getByRole('button', { name: 'Turn off' }).waitFor();
    assert.equal((await t.api('GET', '/v1/flags/endpointRetries')).body.value, true);
    await ctx.close();
  });

  test('an admin creates a user and disables them from the Users page', async () => {
    const { ctx, page } = await signIn('olga');
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
    await page.getByLabel('Sign-in name').fill('dave');
    await page.getByLabel(/^Password/).fill('dave-password-1');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByRole('button', { name: 'Disable dave' }).click();
    await page.getByRole('button', { name: 'Enable dave' }).waitFor();
    const users = await t.api('GET', '/v1/users');
    const dave = users.body.items.find((u: { name: string }) => u.name === 'dave');
    assert.equal(dave.disabled, true);
    assert.equal(dave.hasPassword, true);
    await ctx.close();
  });

  test("an admin revokes a user's API token and ends their sign-in from the Users page", async () => {
    const { ctx: actx, page: alice } = await signIn('alice');
    const users = await t.api('GET', '/v1/users');
    const aliceId = users.body.items.find((u: { name: string }) => u.name === 'alice').id;
    const tok = await t.api('POST', '/v1/tokens', { name: 'alice-script', user: aliceId });
    assert.equal(tok.status, 201, JSON.stringify(tok.body));

    const { ctx, page } = await signIn('olga');
    await page.getByRole('link', { name: 'Users' }).click();
    const toggle = page.getByRole('button', { name: 'Tokens and sign-ins of alice' });
    await toggle.click();
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    const panel = page.locator('#user-credentials');
    await panel.getByRole('heading', { name: "alice's API tokens" }).waitFor();
    const tokenRow = panel.getByRole('row').filter({ hasText: 'alice-script' });
    await tokenRow.getByRole('button', { name: 'Revoke' }).click();
    await tokenRow.getByRole('button', { name: 'Yes, revoke' }).click();
    await panel.getByText('alice has no live API token.').waitFor();
    const revoked = await t.api('GET', `/v1/tokens?user=${aliceId}`);
    assert.equal(
      revoked.body.items.find((x: { name: string }) => x.name === 'alice-script').state,
      'revoked',
    );
    // Alice's sign-ins (this browser's among them): each ended from here; her console is signed out.
    const rows = panel.getByRole('region', { name: "alice's sign-ins" }).getByRole('row');
    await rows.nth(1).waitFor();
    for (let n = await rows.count(); n > 1; n--) {
      await rows.nth(1).getByRole('button', { name: 'End' }).click();
      await rows.nth(1).getByRole('button', { name: /^Yes/ }).click();
      if (n > 2)
        await until(async () => (await rows.count()) < n || undefined, 'one sign-in fewer', {
          timeoutMs: 5000,
        });
    }
    await panel.getByText('alice is not signed in anywhere.').waitFor();
    await alice.reload();
    await alice.waitForURL(/\/login/);
    await accessibility(page, "users with a user's credentials");
    await shot(page, 'users-credentials');
    await ctx.close();
    await actx.close();
  });

  test('endpoints: routes with their health and last minute of traffic; a key created (shown once) and revoked', async () => {
    const sim = await startSim(['--time-scale', '0.05']);
    try {
      const ep = await t.api('POST', '/v1/endpoints', {
        name: 'chat',
        frontend: 'port',
        routes: [
          { id: 'r0', host: '127.0.0.1', port: sim.port },
          { id: 'r1', host: '127.0.0.1', port: 9 },
        ],
      });
      assert.equal(ep.status, 201, JSON.stringify(ep.body));
      // Three answers through the endpoint: its routes' traffic is what the page shows.
      const load = await t.api('POST', `/v1/endpoints/${ep.body.id}/tokens`, { name: 'load' });
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${ep.body.url}v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${load.body.key}` },
          body: JSON.stringify({
            model: 'sim-model',
            messages: [{ role: 'user', content: `q${i}` }],
            max_tokens: 4,
          }),
        });
        assert.equal(res.status, 200, await res.text());
      }
      const { ctx, page } = await signIn('olga');
      await page.getByRole('link', { name: 'Endpoints' }).click();
      const card = page.getByRole('article', { name: 'Endpoint chat' });
      await card.getByRole('cell', { name: `127.0.0.1:${sim.port}` }).waitFor();
      // The serving route's row: health, 3 requests in the last minute, no error, its latencies
      // (updated live: the page rereads it every few seconds until the worker's report is in).
      const row = card.getByRole('row', { name: /^r0 / });
      await row.getByRole('cell', { name: 'healthy' }).waitFor({ timeout: 15_000 });
      await until(
        async () => ((await row.locator('td').nth(6).textContent()) === '3' ? true : undefined),
        'the route row shows 3 requests',
        { timeoutMs: 15_000 },
      );
      const cells = await row.locator('td').allTextContents();
      assert.equal(cells[7], '0.0%', `no error: ${cells.join(' | ')}`);
      assert.match(
        cells[8] ?? '',
        /^\d+(\.\d)? m?s \/ \d+(\.\d)? m?s$/,
        `latency p50 / p99: ${cells.join(' | ')}`,
      );
      await card.getByLabel("New key's name").fill('ci');
      await card.getByRole('button', { name: 'Create key' }).click();
      const shown = await card.locator('.notice code').textContent();
      assert.match(shown ?? '', /^apk_/);
      const keys = await t.api('GET', `/v1/endpoints/${ep.body.id}/tokens`);
      assert.deepEqual(keys.body.items.map((k: { name: string }) => k.name).sort(), ['ci', 'load']);
      await card.getByRole('button', { name: 'Done' }).click();
      assert.equal(await card.locator('.notice').count(), 0, 'the key is not shown again');
      await card
        .getByRole('listitem')
        .filter({ hasText: 'ci' })
        .getByRole('button', { name: 'Revoke' })
        .click();
      await card.getByRole('button', { name: 'Yes, revoke' }).click();
      await until(
        async () => {
          const after = await t.api('GET', `/v1/endpoints/${ep.body.id}/tokens`);
          return (
            after.body.items.find((k: { name: string }) => k.name === 'ci')?.state === 'revoked' || undefined
          );
        },
        'the key revoked',
        { timeoutMs: 10_000 },
      );
      await card.getByRole('listitem').filter({ hasText: 'ci' }).waitFor({ state: 'detached' });
      await shot(page, 'endpoints-traffic');
      await accessibility(page, 'endpoints');
      await ctx.close();
    } finally {
      await sim.stop();
    }
  });

  test('every page: no serious or critical accessibility violation, at 1280 px and 390 px, light and dark', async (tc) => {
    for (const width of [1280, 390]) {
      for (const scheme of ['light', 'dark'] as const) {
        const { ctx, page } = await signIn('olga', width);
        await page.emulateMedia({ colorScheme: scheme });
        for (const [hash, heading] of [
          ['#/sessions', 'Sessions'],
          ['#/circuits', 'Circuits'],
          ['#/endpoints', 'Endpoints'],
          ['#/workers', 'Workers'],
          ['#/users', 'Users'],
          ['#/account', 'Account'],
        ] as const) {
          const t0 = Date.now();
          await page.goto(`${t.url}/${hash}`);
          await page.getByRole('heading', { level: 1, name: heading }).waitFor();
          await page.getByText('Loading…').first().waitFor({ state: 'detached' });
          if (width === 1280 && scheme === 'light')
            tc.diagnostic(`${heading}: shown with its data ${Date.now() - t0} ms after the link`);
          await page.waitForTimeout(300);
          await accessibility(page, `${heading} at ${width} px, ${scheme}`);
          await shot(page, `${hash.slice(2)}-${width}-${scheme}`);
        }
        await ctx.close();
      }
    }
  });
});
