/**
 * The built-in jupyter template with the real Debian `jupyter-notebook`, addressed the way the
 * proxy forwards a browser (Host and Origin of the app's public origin): REST API, a kernel started
 * and driven over WebSocket, then termination with every kernel process gone.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { descendants, isAlive, type ProcId } from '../../../src/agent/process-tree.ts';
import { builtinTemplates, findExecutable } from '../../../src/agent/templates.ts';
import { executeOnKernel } from '../../support/jupyter.ts';
import { type AgentHarness, harness, httpRequest, pidExists } from './harness.ts';

const missing = findExecutable('jupyter-notebook') === null;
if (missing)
  console.log(
    '# jupyter tests skipped: jupyter-notebook is not installed (apt-get install jupyter-notebook)',
  );

// What the proxy forwards: the browser's Host (a wildcard subdomain here) and its Origin.
const HOST = 'ab12cd.apps.example.test:8443';
const ORIGIN = `https://${HOST}`;

describe('jupyter template', { skip: missing ? 'jupyter-notebook is not installed' : false }, () => {
  let h: AgentHarness;
  let port: number;

  before(async () => {
    h = harness(builtinTemplates());
    await h.agent.launch('nb-1', 'jupyter');
    const running = await h.report('nb-1', 'RUNNING', 70_000);
    assert.deepEqual(
      running.services?.map((s) => [s.name, s.protocol]),
      [['notebook', 'http']],
    );
    port = running.services![0]!.port;
  });
  after(() => h?.cleanup());

  test('GET /api answers JSON with a version, under a non-loopback Host', async () => {
    const res = await httpRequest(port, '/api', { headers: { host: HOST } });
    assert.equal(res.status, 200);
    const body = JSON.parse(res.body.toString()) as { version: string };
    assert.match(body.version, /^\d+\.\d+/);
  });

  test('a kernel runs code over WebSocket, and terminate leaves no kernel behind', async () => {
    // The tree page sets the _xsrf cookie that API writes must echo (Jupyter's CSRF defence).
    const tree = await httpRequest(port, '/tree', { headers: { host: HOST } });
    assert.equal(tree.status, 200);
    const setCookie = ([] as string[]).concat(tree.headers['set-cookie'] ?? []);
    const xsrf = setCookie.map((c) => /^_xsrf=([^;]+)/.exec(c)?.[1]).find(Boolean);
    assert.ok(xsrf, `no _xsrf cookie in ${JSON.stringify(setCookie)}`);

    const created = await httpRequest(port, '/api/kernels', {
      method: 'POST',
      headers: {
        host: HOST,
        origin: ORIGIN,
        cookie: `_xsrf=${xsrf}`,
        'x-xsrftoken': xsrf,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ name: 'python3' }),
    });
    assert.equal(created.status, 201, created.body.toString());
    const kernelId = (JSON.parse(created.body.toString()) as { id: string }).id;

    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/kernels/${kernelId}/channels`, {
      headers: { host: HOST, cookie: `_xsrf=${xsrf}` },
      origin: ORIGIN,
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    assert.equal((await executeOnKernel(ws, 'print(6 * 7)')).trim(), '42');
    ws.close();

    // Kernels run in their own session (not the notebook's process group): find them by ancestry.
    const [notebook] = h.agent.processes('nb-1');
    const kernels: ProcId[] = descendants(notebook!.pid);
    assert.ok(kernels.length > 0, 'no kernel process found');

    await h.agent.terminate('nb-1');
    const final = await h.report('nb-1', 'TERMINATED');
    assert.match(final.reason ?? '', /terminated on request/);
    assert.equal(pidExists(notebook!.pid), false);
    // terminate() resolves only once they are gone (a zombie awaiting its reaper counts as gone).
    for (const k of kernels) assert.equal(isAlive(k), false, `kernel process ${k.pid} survived`);
    assert.equal(existsSync(join(h.dataDir, 'sessions', 'nb-1')), false);
  });
});
