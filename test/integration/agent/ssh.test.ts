/** The built-in ssh template, run for real: Debian's sshd on the session's port, key-only. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import {
  builtinTemplates,
  findExecutable,
  parseTemplates,
  templateInfo,
} from '../../../src/agent/templates.ts';
import { until } from '../../support/poll.ts';
import { type AgentHarness, harness, pidExists } from './harness.ts';

const run = promisify(execFile);
const sshTemplate = (opts?: Parameters<typeof builtinTemplates>[0]) =>
  builtinTemplates(opts).find((t) => t.name === 'ssh')!;
const haveOpenSsh = templateInfo(sshTemplate()).available && findExecutable('ssh') !== null;
const skip = haveOpenSsh
  ? false
  : 'openssh-server/openssh-client not installed (apt-get install openssh-server openssh-client)';

/** The first line the port sends (an SSH server speaks first). */
function banner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' });
    let text = '';
    s.setTimeout(5000, () => s.destroy(new Error('no banner within 5 s')));
    s.on('data', (c) => {
      text += c.toString('latin1');
      if (text.includes('\n')) {
        s.destroy();
        resolve(text.split('\r\n')[0]!);
      }
    });
    s.once('error', reject);
  });
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

function sshArgs(port: number, key: string, command: string[], options: string[] = []): string[] {
  return [
    '-p',
    String(port),
    '-i',
    key,
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'LogLevel=ERROR',
    ...options,
    `${userInfo().username}@127.0.0.1`,
    ...command,
  ];
}

test('ssh is a built-in with one tcp service, requires sshd and ssh-keygen, and a 30 min connection idle default', () => {
  const t = parseTemplates([sshTemplate()])[0]!;
  const info = templateInfo(t);
  assert.deepEqual(info.services, [{ name: 'ssh', protocol: 'tcp' }]);
  assert.deepEqual(info.idle, { connectionIdleTimeoutMs: 30 * 60_000 });
  assert.equal(t.services[0]!.readiness.kind, 'tcp');
  assert.ok(t.requires?.includes('ssh-keygen'));
});

test('without sshd the ssh template is unavailable, naming what is missing', async (t) => {
  const none = mkdtempSync(join(tmpdir(), 'appproxy-nopath-'));
  t.after(() => rmSync(none, { recursive: true, force: true }));
  const info = templateInfo(sshTemplate({ path: none, sbinDirs: [] }), none);
  assert.equal(info.available, false);
  assert.match(info.unavailableReason ?? '', /missing executables: sshd, ssh-keygen/);

  // ssh-keygen present, sshd absent: only sshd is named.
  const keygen = findExecutable('ssh-keygen');
  if (keygen) {
    symlinkSync(keygen, join(none, 'ssh-keygen'));
    const partial = templateInfo(sshTemplate({ path: none, sbinDirs: [] }), none);
    assert.equal(partial.available, false);
    assert.match(partial.unavailableReason ?? '', /missing executable: sshd \(/);
  }
  // sshd in a system directory off PATH (Debian's /usr/sbin for non-root users) still counts.
  const sshd = findExecutable('sshd', '/usr/sbin');
  if (sshd && keygen) {
    const found = templateInfo(sshTemplate({ path: none, sbinDirs: ['/usr/sbin'] }), none);
    assert.equal(found.available, true, found.unavailableReason ?? '');
  }
});

describe('ssh template running sshd', { skip }, () => {
  let h: AgentHarness;
  let keyDir: string;
  let key: string;
  let port: number;
  let pid: number;
  const saved = process.env.APPPROXY_SSH_AUTHORIZED_KEYS;

  before(async () => {
    keyDir = mkdtempSync(join(tmpdir(), 'appproxy-ssh-key-'));
    key = join(keyDir, 'id_ed25519');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'appproxy-test', '-f', key]);
    // Read by the launcher at each session start (passEnv), from the agent's environment.
    process.env.APPPROXY_SSH_AUTHORIZED_KEYS = `${key}.pub`;
    h = harness(builtinTemplates());
    await h.agent.launch('ssh-1', 'ssh');
    const running = await h.report('ssh-1', 'RUNNING');
    port = running.services![0]!.port;
    pid = h.agent.processes('ssh-1')[0]!.pid;
  });
  after(async () => {
    await h?.cleanup();
    if (saved === undefined) delete process.env.APPPROXY_SSH_AUTHORIZED_KEYS;
    else process.env.APPPROXY_SSH_AUTHORIZED_KEYS = saved;
    rmSync(keyDir, { recursive: true, force: true });
  });

  test('the port answers with an SSH banner', async () => {
    assert.match(await banner(port), /^SSH-2\.0-OpenSSH/);
  });

  test('the authorized key logs in and runs a command', async () => {
    const r = await run('ssh', sshArgs(port, key, ['echo', 'hello']));
    assert.equal(r.stdout, 'hello\n');
  });

  test('password and keyboard-interactive logins are off', async () => {
    await assert.rejects(
      run('ssh', sshArgs(port, key, ['true'], ['-o', 'PubkeyAuthentication=no'])),
      (err: { stderr: string }) => {
        assert.match(err.stderr, /Permission denied \(publickey\)/);
        return true;
      },
    );
    const config = readFileSync(join(h.dataDir, 'sessions', 'ssh-1', '.sshd', 'sshd_config'), 'utf8');
    assert.match(config, /^PasswordAuthentication no$/m);
    assert.match(config, new RegExp(`^Port ${port}$`, 'm'));
  });

  test('terminating stops sshd and removes its files', async () => {
    await h.agent.terminate('ssh-1');
    const final = await h.report('ssh-1', 'TERMINATED');
    assert.equal(final.reason, 'terminated on request');
    assert.equal(await refused(port), true);
    await until(() => !pidExists(pid), 'the launcher to be gone', { timeoutMs: 5000 });
    assert.equal(existsSync(join(h.dataDir, 'sessions', 'ssh-1')), false);
  });
});

describe('ssh template without a key to authorize', { skip }, () => {
  const saved = process.env.APPPROXY_SSH_AUTHORIZED_KEYS;
  after(() => {
    if (saved === undefined) delete process.env.APPPROXY_SSH_AUTHORIZED_KEYS;
    else process.env.APPPROXY_SSH_AUTHORIZED_KEYS = saved;
  });

  test('an unreadable APPPROXY_SSH_AUTHORIZED_KEYS file fails the session with the reason', async (t) => {
    process.env.APPPROXY_SSH_AUTHORIZED_KEYS = '/nonexistent/appproxy-keys.pub';
    const h = harness(builtinTemplates());
    t.after(() => h.cleanup());
    await h.agent.launch('ssh-2', 'ssh');
    const report = await h.report('ssh-2', 'ERROR');
    assert.match(
      report.reason ?? '',
      /APPPROXY_SSH_AUTHORIZED_KEYS names \/nonexistent\/appproxy-keys\.pub, which cannot be read/,
    );
  });

  test('no key at all fails the session saying where keys go', async (t) => {
    const home = userInfo().homedir;
    const hasOwn =
      existsSync(join(home, '.ssh', 'authorized_keys')) ||
      (existsSync(join(home, '.ssh')) &&
        (
          await run('sh', ['-c', `ls ${JSON.stringify(join(home, '.ssh'))}/id_*.pub 2>/dev/null`]).catch(
            () => ({
              stdout: '',
            }),
          )
        ).stdout !== '');
    if (hasOwn) {
      t.skip(`${home}/.ssh has keys of its own`);
      return;
    }
    const keysDir = mkdtempSync(join(tmpdir(), 'appproxy-nokeys-'));
    t.after(() => rmSync(keysDir, { recursive: true, force: true }));
    const empty = join(keysDir, 'keys.pub');
    writeFileSync(empty, '# no keys here\n');
    process.env.APPPROXY_SSH_AUTHORIZED_KEYS = empty;
    const h = harness(builtinTemplates());
    t.after(() => h.cleanup());
    await h.agent.launch('ssh-3', 'ssh');
    const report = await h.report('ssh-3', 'ERROR');
    assert.match(report.reason ?? '', /no public key to authorize: put one in .*authorized_keys/);
  });
});
