/**
 * ssh and scp through AppProxy, end to end: the built-in `ssh` template (Debian's sshd run by the
 * local agent), TCP circuits on the port-mode worker, the real `appproxy tunnel` binary, and the
 * real OpenSSH clients.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { builtinTemplates, findExecutable, templateInfo } from '../../src/agent/templates.ts';
import { until } from '../support/poll.ts';
import { runningSession, startTestSystem, type TestSystem, waitRunning } from '../support/system.ts';
import { connectTcp, startTunnelProcess, type TunnelProcess } from './tunnel-process.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const user = userInfo().username;

const sshAvailable =
  templateInfo(builtinTemplates().find((t) => t.name === 'ssh')!).available &&
  findExecutable('ssh') !== null &&
  findExecutable('scp') !== null;
const skip = sshAvailable
  ? false
  : 'openssh-server/openssh-client not installed (apt-get install openssh-server openssh-client)';

/** Options every OpenSSH client call here uses: the test key only, no host key prompts, no questions. */
function clientOptions(key: string): string[] {
  return [
    '-i',
    key,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'LogLevel=ERROR',
  ];
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** A file of random bytes, written in chunks. */
async function randomFile(file: string, bytes: number): Promise<void> {
  const out = createWriteStream(file);
  for (let left = bytes; left > 0; left -= MiB) {
    if (!out.write(randomBytes(Math.min(MiB, left)))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

describe('ssh and scp through AppProxy', { skip }, () => {
  let t: TestSystem;
  let dir: string;
  let key: string;
  const tunnels: TunnelProcess[] = [];
  const saved = process.env.APPPROXY_SSH_AUTHORIZED_KEYS;

  const ssh = (port: number, command: string[]) =>
    run('ssh', ['-p', String(port), ...clientOptions(key), `${user}@127.0.0.1`, ...command]);
  const tunnel = async (session: string) => {
    const p = await startTunnelProcess({ url: t.url, token: t.token }, [session, 'ssh']);
    tunnels.push(p);
    return p;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'appproxy-e2e-ssh-'));
    key = join(dir, 'id_ed25519');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'appproxy-e2e', '-f', key]);
    // The agent runs in this process (startTestSystem): its sessions' sshd authorize this key.
    process.env.APPPROXY_SSH_AUTHORIZED_KEYS = `${key}.pub`;
    // Short idle timeouts are below the default limit of 1 s: the limit is lowered for the test.
    t = await startTestSystem({
      manager: { port: 0, idlePolicy: { minTimeout: '100ms' } },
    });
  });
  after(async () => {
    for (const p of tunnels) p.kill();
    await t?.close();
    if (saved === undefined) delete process.env.APPPROXY_SSH_AUTHORIZED_KEYS;
    else process.env.APPPROXY_SSH_AUTHORIZED_KEYS = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  test('ssh runs a command through `appproxy tunnel`; Ctrl-C stops the tunnel with status 0', async () => {
    const session = await runningSession(t, 'ssh');
    const p = await tunnel(session.id);
    assert.match(p.stdout, new RegExp(`ssh -p ${p.port} <user>@127\\.0\\.0\\.1`));
    const r = await ssh(p.port, ['echo', 'hello']);
    assert.equal(r.stdout, 'hello\n');
    await p.waitStderr(/connection 1 from 127\.0\.0\.1:\d+ open/);
    await p.waitStderr(/connection 1 from 127\.0\.0\.1:\d+ closed \([a-z-]+\): sent \d/);
    // The circuit is a tunnel: its port speaks only the tunnel protocol, never raw TCP to sshd.
    const { body: circuits } = await t.api('GET', `/v1/circuits?sessionId=${session.id}`);
    const circuit = circuits.items.find((c: any) => c.state === 'ACTIVE');
    assert.equal(circuit.access.mode, 'tunnel');
    assert.equal(await p.interrupt(), 0);
  });

  test('scp of 100 MiB each way through the tunnel keeps its sha256', { timeout: 240_000 }, async () => {
    const session = await runningSession(t, 'ssh');
    const p = await tunnel(session.id);
    const source = join(dir, 'random.bin');
    const uploaded = join(dir, 'uploaded.bin');
    const back = join(dir, 'back.bin');
    await randomFile(source, 100 * MiB);
    const scp = (from: string, to: string) =>
      run('scp', ['-q', '-P', String(p.port), ...clientOptions(key), from, to], { maxBuffer: MiB });
    // The sshd runs on this machine as this user, so the remote path is a local one too.
    await scp(source, `${user}@127.0.0.1:${uploaded}`);
    await scp(`${user}@127.0.0.1:${uploaded}`, back);
    const expected = await sha256File(source);
    assert.equal(await sha256File(uploaded), expected);
    assert.equal(await sha256File(back), expected);
    for (const f of [source, uploaded, back]) rmSync(f, { force: true });
    // The tunnel's own count of the upload: at least the file went through connection 1.
    const m = await p.waitStderr(/connection 1 from \S+ closed \([a-z-]+\): sent ([\d.]+) MiB/);
    assert.ok(Number(m[1]) >= 100, `sent only ${m[1]} MiB`);
    assert.equal(await p.interrupt(), 0);
  });

  test('ssh straight to an allow-listed port (allowFrom 127.0.0.1/32)', async () => {
    const session = await runningSession(t, 'ssh');
    const res = await t.api('POST', `/v1/sessions/${session.id}/start-service`, {
      service: 'ssh',
      access: { mode: 'allow-list', allowFrom: ['127.0.0.1/32'] },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.setupUrl, null);
    const url = new URL(res.body.appUrl);
    assert.equal(url.protocol, 'tcp:');
    const r = await ssh(Number(url.port), ['echo', 'direct']);
    assert.equal(r.stdout, 'direct\n');
  });

  test('terminating the session closes the live tunnelled ssh connection (circuit-closed)', async () => {
    const session = await runningSession(t, 'ssh');
    const p = await tunnel(session.id);
    const child = spawn(
      'ssh',
      ['-p', String(p.port), ...clientOptions(key), `${user}@127.0.0.1`, 'echo ready; sleep 120'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    try {
      await until(() => out.includes('ready'), 'the remote command to start', { timeoutMs: 15_000 });
      const started = Date.now();
      const del = await t.api('DELETE', `/v1/sessions/${session.id}?wait=true`);
      assert.equal(del.status, 200, JSON.stringify(del.body));
      assert.equal(del.body.state, 'TERMINATED');
      // The connection is cut by the worker (not left to time out): ssh fails at once.
      const code = await exited;
      assert.notEqual(code, 0);
      assert.ok(Date.now() - started < 15_000);
      await p.waitStderr(/connection 1 from \S+ closed \(circuit-closed\)/);
      // Nothing is left to tunnel to: the command stops with an error.
      assert.equal(await p.exited, 1);
      assert.match(p.stderr, /error: the circuit was closed/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('an idle tunnelled connection is closed at the connection idle timeout, not before', async () => {
    const IDLE_MS = 800;
    const created = await t.api('POST', '/v1/sessions', {
      template: 'ssh',
      idle: { connectionIdleTimeoutMs: IDLE_MS },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await waitRunning(t, created.body.id);
    const p = await tunnel(created.body.id);
    const { body: circuits } = await t.api('GET', `/v1/circuits?sessionId=${created.body.id}`);
    assert.equal(circuits.items[0].idle.connectionIdleTimeoutMs, IDLE_MS);

    // A raw client: sshd sends its banner, then waits for ours, which never comes.
    const s = await connectTcp(p.port);
    const [banner] = (await once(s, 'data')) as [Buffer];
    const lastByte = Date.now();
    assert.match(banner.toString('latin1'), /^SSH-2\.0-/);
    s.resume();
    await Promise.race([once(s, 'end'), once(s, 'close')]);
    const idle = Date.now() - lastByte;
    s.destroy();
    // The worker's clock starts at the last byte it relayed, a little before we read it.
    assert.ok(idle >= IDLE_MS - 100, `closed after ${idle} ms, before the ${IDLE_MS} ms idle timeout`);
    assert.ok(idle < IDLE_MS + 5000, `closed only after ${idle} ms`);
    await p.waitStderr(/connection 1 from \S+ closed \(idle-timeout\)/);
    assert.equal(await p.interrupt(), 0);
  });
});
