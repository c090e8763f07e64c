import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { closedPortUrl, emptyDataDir } from '../../support/cli.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const node = path.join(root, 'node_modules/.bin/node');
const bin = path.join(root, 'bin/appproxy.js');
const run = promisify(execFile);

async function runBin(args: string[], env: Record<string, string> = {}, with_ = node) {
  try {
    const r = await run(with_, [bin, ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', APPPROXY_DATA_DIR: emptyDataDir(), ...env },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('bin/appproxy.js', () => {
  it('is executable and prints help', async () => {
    accessSync(bin, constants.X_OK);
    const r = await runBin(['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: appproxy \[options\] \[command\]/);
    assert.match(r.stdout, /session\s+create, inspect and delete sessions/);
  });

  it('propagates exit codes: 2 for usage errors, 1 for failures', async () => {
    const usage = await runBin(['session', 'list', '--bogus']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /unknown option '--bogus'/);
    const url = await closedPortUrl();
    const down = await runBin(['session', 'list'], { APPPROXY_URL: url });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach the manager at .* \(ECONNREFUSED\) — is `appproxy up` running\?/);
  });
});

/** The machine's own Node when it is older than the runtime the checkout brings (else null). */
function olderSystemNode(): string | null {
  for (const p of ['/usr/bin/node', '/usr/local/bin/node']) {
    try {
      accessSync(p, constants.X_OK);
      const major = Number(execFileSync(p, ['-p', 'process.versions.node.split(".")[0]']).toString());
      if (major < 22) return p;
    } catch {}
  }
  return null;
}

describe('bin/appproxy.js started by an older Node', () => {
  const older = olderSystemNode();
  it('runs again under the bundled runtime: help, and exit codes kept', {
    skip: older ? false : 'no Node older than 22 on this machine',
  }, async () => {
    const help = await runBin(['--help'], {}, older!);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: appproxy \[options\] \[command\]/);
    const usage = await runBin(['session', 'list', '--bogus'], {}, older!);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /unknown option '--bogus'/);
  });
});
