/**
 * A real browser (Debian's chromium, driven by playwright-core) follows a setup URL to the app
 * in both frontend modes, uses a WebSocket from the page, and is refused once the session ends.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium, skipWithoutChromium } from '../support/browser.ts';
import { until } from '../support/poll.ts';
import { runningSession, startTestSystem, type TestSystem } from '../support/system.ts';

describe('in a real browser', {
  skip: skipWithoutChromium,
}, () => {
  let t: TestSystem;
  let browser: Browser;

  before(async () => {
    t = await startTestSystem();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  for (const frontend of ['port', 'wildcard'] as const) {
    test(`setup URL → app page → WebSocket from the page → refused after terminate (${frontend})`, async () => {
      const session = await runningSession(t, 'demo');
      const r = await t.api('POST', `/v1/sessions/${session.id}/start-service`, {
        service: 'web',
        frontend,
        next: '/?from=setup',
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const context = await browser.newContext();
      const page = await context.newPage();
      const resp = await page.goto(r.body.setupUrl);
      assert.equal(resp?.status(), 200);
      assert.equal(page.url(), `${r.body.appUrl}?from=setup`);
      assert.match(await page.title(), /AppProxy demo/);
      const echoed = await page.evaluate(
        () =>
          new Promise<string>((resolve, reject) => {
            const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/ws`);
            ws.onopen = () => ws.send('from the browser');
            ws.onmessage = (e) => {
              resolve(String(e.data));
              ws.close();
            };
            ws.onerror = () => reject(new Error('websocket failed'));
          }),
      );
      assert.equal(echoed, 'from the browser');
      // The token in the setup URL is spent: a second visit is refused.
      const again = await page.goto(r.body.setupUrl);
      assert.equal(again?.status(), 401);

      await t.api('DELETE', `/v1/sessions/${session.id}?wait=true`);
      await until(
        async () => {
          try {
            const p = await page.goto(r.body.appUrl);
            return p !== null && p.status() !== 200;
          } catch {
            return true; // connection refused (port mode)
          }
        },
        'the app to be refused in the browser',
        { timeoutMs: 10_000 },
      );
      await context.close();
    });
  }
});
