/**
 * A real Jupyter Notebook (Debian's jupyter-notebook) through the proxy: the tree page, a kernel
 * started over the REST API, and `1+1` executed over the kernel's WebSocket.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { CookieJar, followSetup, request } from '../support/http.ts';
import { executeOnKernel } from '../support/jupyter.ts';
import { runningSession, startTestSystem, type TestSystem } from '../support/system.ts';

const hasJupyter = existsSync('/usr/bin/jupyter-notebook');

describe('Jupyter Notebook through the proxy', {
  skip: hasJupyter ? false : 'jupyter-notebook is not installed (apt-get install jupyter-notebook)',
}, () => {
  let t: TestSystem;
  let start: any;
  const jar = new CookieJar();

  before(async () => {
    t = await startTestSystem();
    const session = await runningSession(t, 'jupyter', 90_000);
    const r = await t.api('POST', `/v1/sessions/${session.id}/start-service`, {
      service: 'notebook',
      frontend: 'port',
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    start = r.body;
    assert.equal((await followSetup(start.setupUrl, jar)).status, 302);
  });
  after(async () => {
    await t?.close();
  });

  test('the tree page opens', async () => {
    const tree = await request(`${start.appUrl}tree`, { jar });
    assert.equal(tree.status, 200);
    assert.match(tree.text, /Jupyter/);
  });

  test('a kernel starts and runs 1+1 over its WebSocket', async () => {
    const origin = new URL(start.appUrl).origin;
    const xsrf = jar.header(origin)?.match(/_xsrf=([^;]+)/)?.[1];
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      ...(xsrf ? { 'x-xsrftoken': xsrf } : {}),
    };
    const k = await request(`${start.appUrl}api/kernels`, {
      method: 'POST',
      jar,
      headers,
      body: JSON.stringify({ name: 'python3' }),
    });
    assert.equal(k.status, 201, k.text);
    const kernel = JSON.parse(k.text);
    const u = new URL(start.appUrl);
    const ws = new WebSocket(`ws://${u.host}/api/kernels/${kernel.id}/channels?session_id=${randomUUID()}`, {
      headers: { cookie: jar.header(origin)!, origin },
    });
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    assert.equal(await executeOnKernel(ws, '1+1'), '2');
    ws.close();
  });
});
