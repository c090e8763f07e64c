import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
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

async function runBin(args: string[], env: Record<string, string> = {}) {
  try {
    const r = await run(node, [bin, ...args], {
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
