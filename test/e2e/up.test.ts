/**
 * `appproxy up` as a user runs it: a child process that prints its API URL and token, serves the
 * CLI, and on Ctrl-C (SIGINT) stops with its session processes and listeners gone.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { until } from '../support/poll.ts';

const root = new URL('../../', import.meta.url).pathname;
const bin = join(root, 'bin/appproxy.js');

function run(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, cwd: root });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => (stdout += c));
    p.stderr.on('data', (c) => (stderr += c));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });

let child: ChildProcess | undefined;
const dataDir = mkdtempSync(join(tmpdir(), 'appproxy-up-'));
after(() => {
  child?.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

test('appproxy up: banner, CLI round trip, clean Ctrl-C', { timeout: 120_000 }, async () => {
  const first = randomInt(20_000, 59_000);
  const config = join(dataDir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      workers: [
        { authority: 'port-1', frontendMode: 'port', portRange: [first, first + 9] },
        { authority: 'wildcard-1', frontendMode: 'wildcard', port: 0 },
      ],
    }),
  );
  const token = 'up-test-token';
  child = spawn(
    process.execPath,
    [bin, 'up', '--port', '0', '--data-dir', dataDir, '--config', config, '--log-level', 'warn'],
    {
      env: { ...process.env, APPPROXY_ADMIN_TOKEN: token },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  const url = await until(() => /API:\s+(http:\/\/\S+)/.exec(out)?.[1], 'the banner', { timeoutMs: 60_000 });
  assert.match(out, /admin token: up-test-token/);

  const env = { APPPROXY_URL: url, APPPROXY_TOKEN: token };
  const created = await run(['session', 'create', 'demo', '--wait', '--json'], env);
  assert.equal(created.code, 0, created.stderr);
  const session = JSON.parse(created.stdout);
  assert.equal(session.state, 'RUNNING');
  const opened = await run(['app', 'open', session.id, 'web', '--json'], env);
  assert.equal(opened.code, 0, opened.stderr);
  const app = JSON.parse(opened.stdout);
  assert.match(app.setupUrl, /\/_appproxy\/setup\?token=/);
  const appPort = Number(new URL(app.appUrl).port);
  const backendPorts: number[] = session.services.map((s: any) => s.backend.port);
  assert.equal(await refused(appPort), false);

  const listed = await run(['session', 'list'], env);
  assert.equal(listed.code, 0);
  assert.match(listed.stdout, new RegExp(session.name));

  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child!.once('exit', (c) => r(c)));
  assert.equal(code, 0, out);
  assert.match(out, /stopped/);
  assert.equal(await refused(Number(new URL(url).port)), true, 'API listener still open');
  assert.equal(await refused(appPort), true, 'app listener still open');
  for (const p of backendPorts) assert.equal(await refused(p), true, `session process on ${p} still running`);
  child = undefined;
});

test('appproxy up refuses a bad config with the key named', async () => {
  const bad = join(dataDir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ manager: { prot: 1 } }));
  const r = await run(['up', '--config', bad, '--data-dir', dataDir], {});
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown key "prot"/);
});
