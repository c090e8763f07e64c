/**
 * Signing the CLI in and out, and the identity commands (user, token, login-session, logout-uri),
 * against a real manager on embedded stores listening on a loopback port. The CLI runs in-process
 * with its own config folder per test (credentials are never read from the real home), except one
 * run of bin/appproxy.js that reads the password from a real pipe.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from '../../../src/cli/main.ts';
import type { CliIo } from '../../../src/cli/runtime.ts';
import { emptyDataDir, FakeManager, runCli } from '../../support/cli.ts';
import { until } from '../../support/poll.ts';
import { ADMIN_TOKEN, ManagerHarness } from '../manager/harness.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const ALICE_PASSWORD = 'alice-password-1';

const stdinOf = (text: string): Partial<CliIo> => ({ stdin: Readable.from([text]) });
const mode = (p: string) => statSync(p).mode & 0o777;
const stored = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'credentials.json'), 'utf8'));

/** A config folder that does not exist yet (login creates it). */
const freshConfigDir = () => path.join(emptyDataDir(), 'config', 'appproxy');

/**
 * A terminal (stdin and stderr) whose prompts are answered in order; records the questions and
 * what is written to stderr.
 */
function scriptedPrompt(answers: string[]) {
  const asked: { question: string; echo: boolean }[] = [];
  const out = { stderr: '' };
  const prompt: CliIo['prompt'] = async (question, opts) => {
    asked.push({ question, echo: opts?.echo !== false });
    const next = answers.shift();
    if (next === undefined) throw new Error(`unexpected prompt: ${question}`);
    return next;
  };
  const io: Partial<CliIo> = {
    prompt,
    stdin: Object.assign(Readable.from([]), { isTTY: true }),
    stderr: { write: (s: string) => (out.stderr += s), isTTY: true },
  };
  return { asked, io, out };
}

/** Signs a browser in through the manager's sign-in page; resolves with its login cookie. */
async function browserLogin(url: string, name: string, password: string): Promise<string> {
  const page = await fetch(`${url}/login`);
  const csrfCookie = page.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith('appproxy_login_csrf='));
  assert.ok(csrfCookie, 'the sign-in page sets its anti-forgery cookie');
  const field = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1];
  assert.ok(field, 'the sign-in form carries _csrf');
  const res = await fetch(`${url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: csrfCookie },
    body: new URLSearchParams({ _csrf: field, next: '/', name, password }).toString(),
  });
  assert.equal(res.status, 303, await res.text());
  const login = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => !c.startsWith('appproxy_login_csrf=') && !c.endsWith('='));
  assert.ok(login, 'signing in sets the login cookie');
  return login;
}

/** Approves a CLI sign-in in that browser: the approval page, then its form. */
async function approveInBrowser(verificationUrl: string, cookie: string, code: string): Promise<void> {
  const page = await fetch(verificationUrl, { headers: { cookie }, redirect: 'manual' });
  const html = await page.text();
  assert.equal(page.status, 200, html);
  assert.ok(html.includes(code), 'the approval page shows the code');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  assert.ok(csrf);
  const res = await fetch(new URL('/cli-login', verificationUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: new URLSearchParams({ _csrf: csrf, code }).toString(),
  });
  assert.equal(res.status, 200, await res.text());
}

/** `appproxy login` (browser flow) running in-process: its stderr as it comes, and Ctrl-C. */
function startLogin(args: string[], env: Record<string, string>) {
  let stdout = '';
  let stderr = '';
  let interrupt: (() => void) | null = null;
  const done = main(['login', ...args], {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env,
    openUrl: async () => false,
    onInterrupt: (h) => {
      interrupt = h;
      return () => {
        interrupt = null;
      };
    },
  });
  return {
    done,
    out: () => ({ stdout, stderr }),
    /** The approval link and code once printed. */
    code: () =>
      until(
        () => {
          const m = /^Open (\S+) and approve code (\S+)$/m.exec(stderr);
          return m ? { url: m[1]!, code: m[2]! } : undefined;
        },
        'the approval link on stderr',
        { timeoutMs: 10_000 },
      ),
    interrupt: () => interrupt?.(),
  };
}

describe('CLI sign-in and identity against a real manager', () => {
  let h: ManagerHarness;
  let url: string;
  let aliceId: string;
  const admin = (args: string[], io: Partial<CliIo> = {}) =>
    runCli(args, { env: { APPPROXY_URL: url, APPPROXY_TOKEN: ADMIN_TOKEN }, io });
  /** The CLI of someone whose credentials live in `dir`. */
  const as = (dir: string, args: string[], io: Partial<CliIo> = {}, extra: Record<string, string> = {}) =>
    runCli(args, { env: { APPPROXY_URL: url, APPPROXY_CONFIG_DIR: dir, ...extra }, io });
  const loginAlice = async (dir: string) => {
    const r = await as(dir, ['login', '--name', 'alice', '--password-stdin'], stdinOf(`${ALICE_PASSWORD}\n`));
    assert.equal(r.code, 0, r.stderr);
    return stored(dir).token as string;
  };

  before(async () => {
    h = await ManagerHarness.create();
    await h.manager.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(h.manager.app.server.address() as AddressInfo).port}`;
    h.manager.setPublicUrl(url);
    const alice = await h.api('POST', '/v1/users', {
      name: 'alice',
      password: ALICE_PASSWORD,
      displayName: 'Alice',
    });
    assert.equal(alice.status, 201, alice.text);
    aliceId = alice.body.id;
  });
  after(async () => {
    await h?.close();
  });

  test('login --name --password-stdin stores the secret 0600 in a new 0700 folder and never prints it', async () => {
    const dir = freshConfigDir();
    const r = await as(dir, ['login', '--name', 'alice', '--password-stdin'], stdinOf(`${ALICE_PASSWORD}\n`));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      `Signed in as alice to ${url}\nCredentials saved in ${path.join(dir, 'credentials.json')}\n`,
    );
    assert.equal(mode(dir), 0o700);
    assert.equal(mode(path.join(dir, 'credentials.json')), 0o600);
    const creds = stored(dir);
    assert.equal(creds.url, url);
    assert.equal(creds.user, 'alice');
    assert.match(creds.token, /^apl_/);
    assert.ok(!Number.isNaN(Date.parse(creds.savedAt)));
    assert.ok(!r.stdout.includes(creds.token) && !r.stderr.includes(creds.token));
    assert.ok(!r.stdout.includes(ALICE_PASSWORD) && !r.stderr.includes(ALICE_PASSWORD));

    // Later commands use it: with the URL given, or with none (the stored one).
    const who = await as(dir, ['whoami']);
    assert.equal(who.code, 0, who.stderr);
    assert.match(who.stdout, /^User\s+alice \(Alice\)$/m);
    assert.match(who.stdout, /^Role\s+user$/m);
    assert.match(who.stdout, /^Via\s+login-session$/m);
    assert.match(who.stdout, /^Login session\s+\S+ \(cli\)$/m);
    assert.match(
      who.stdout,
      new RegExp(`^Token from\\s+${path.join(dir, 'credentials.json')} \\(appproxy login\\)$`, 'm'),
    );
    assert.ok(!who.stdout.includes(creds.token));
    const noUrl = await runCli(['--json', 'whoami'], { env: { APPPROXY_CONFIG_DIR: dir } });
    assert.equal(noUrl.code, 0, noUrl.stderr);
    assert.equal(JSON.parse(noUrl.stdout).user.id, aliceId);
    // An explicit token still wins over the stored one.
    const flag = await as(dir, ['--json', 'whoami', '--token', ADMIN_TOKEN]);
    assert.equal(JSON.parse(flag.stdout).user.name, 'admin');
  });

  test('a wrong password stores nothing; a password is never taken from argv', async () => {
    const dir = freshConfigDir();
    const r = await as(dir, ['login', '--name', 'alice', '--password-stdin'], stdinOf('wrong-password\n'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: Wrong name or password\. \[AP_ERR_LOGIN_FAILED\]/);
    assert.ok(!existsSync(path.join(dir, 'credentials.json')));
    const argv = await as(dir, ['login', '--name', 'alice', '--password', ALICE_PASSWORD]);
    assert.equal(argv.code, 2);
    assert.match(argv.stderr, /unknown option '--password'/);
    const noPipe = await as(dir, ['login', '--name', 'alice']);
    assert.equal(noPipe.code, 2);
    assert.match(noPipe.stderr, /no terminal to ask for the password on: pipe it with --password-stdin/);
    // On a terminal the password is asked for, without echo.
    const tty = scriptedPrompt([ALICE_PASSWORD]);
    // A stale APPPROXY_TOKEN does not get in the way of signing in, but it would win afterwards.
    const asked = await as(dir, ['login', '--name', 'alice'], tty.io, { APPPROXY_TOKEN: 'stale-token' });
    assert.equal(asked.code, 0, tty.out.stderr);
    assert.deepEqual(tty.asked, [{ question: 'Password for alice: ', echo: false }]);
    assert.match(
      tty.out.stderr,
      /^note: APPPROXY_TOKEN is set and takes precedence over the stored credentials/m,
    );
  });

  test('bin/appproxy.js login reads the password from a real pipe', async () => {
    const dir = freshConfigDir();
    const child = spawn(
      path.join(root, 'node_modules/.bin/node'),
      [path.join(root, 'bin/appproxy.js'), 'login', '--name', 'alice', '--password-stdin'],
      {
        cwd: root,
        env: {
          PATH: process.env.PATH ?? '',
          APPPROXY_URL: url,
          APPPROXY_CONFIG_DIR: dir,
          APPPROXY_DATA_DIR: emptyDataDir(),
        },
      },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (out += c));
    child.stdin.end(`${ALICE_PASSWORD}\n`);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, out);
    assert.match(out, /^Signed in as alice to /m);
    assert.equal(mode(path.join(dir, 'credentials.json')), 0o600);
    assert.ok(!out.includes(stored(dir).token));
  });

  test('token create/list/revoke; login --token stores a token; a revoked token fails whoami', async () => {
    const dir = freshConfigDir();
    await loginAlice(dir);
    const made = await as(dir, ['token', 'create', '--name', 'ci', '--expires-in', '30d']);
    assert.equal(made.code, 0, made.stderr);
    const secret = /^ {2}(ap_\S+)$/m.exec(made.stdout)?.[1];
    assert.ok(secret, made.stdout);
    assert.match(made.stderr, /Store this token now: it is not shown again/);
    const id = /^ID\s+(\S+)$/m.exec(made.stdout)![1]!;
    const expires = Date.parse(/^Expires\s+(\S+)$/m.exec(made.stdout)![1]!);
    assert.ok(Math.abs(expires - Date.now() - 30 * 86_400_000) < 60_000, made.stdout);

    const list = await as(dir, ['token', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^${id}\\s+ci\\s+${aliceId}\\s+-\\s+live\\s`, 'm'));
    assert.ok(!list.stdout.includes(secret));
    // Admins list one user's tokens by name.
    const byAdmin = await admin(['--json', 'token', 'list', '--user', 'alice']);
    assert.ok(JSON.parse(byAdmin.stdout).items.some((t: { id: string }) => t.id === id));

    // login --token checks the token and stores it (its own folder).
    const tokenDir = freshConfigDir();
    const withToken = await as(tokenDir, ['login', '--token', secret]);
    assert.equal(withToken.code, 0, withToken.stderr);
    assert.match(withToken.stdout, new RegExp(`^Signed in as alice to \\S+ \\(API token ${id}\\)$`, 'm'));
    assert.equal(stored(tokenDir).token, secret);
    assert.ok(!withToken.stdout.includes(secret));
    const who = await as(tokenDir, ['whoami']);
    assert.match(who.stdout, /^Via\s+token$/m);
    assert.match(who.stdout, new RegExp(`^API token\\s+${id}$`, 'm'));
    const bad = await as(freshConfigDir(), ['login', '--token', 'ap_not-a-token']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /\[AP_ERR_TOKEN_INVALID\]/);

    const revoked = await as(dir, ['token', 'revoke', id]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(revoked.stdout, `token ${id} (ci) revoked\n`);
    const after = await as(tokenDir, ['whoami']);
    assert.equal(after.code, 1);
    assert.match(after.stderr, /^error: .*\[AP_ERR_TOKEN_INVALID\]/);
    assert.match(
      after.stderr,
      /^hint: the token came from .*credentials\.json \(`appproxy login` as alice\); .*run `appproxy login` again$/m,
    );
    const listed = await as(dir, ['--json', 'token', 'list']);
    assert.equal(JSON.parse(listed.stdout).items.find((t: { id: string }) => t.id === id).state, 'revoked');
  });

  test('logout with an API token only forgets it: the token stays valid', async () => {
    const made = await admin(['--json', 'token', 'create', '--name', 'kept', '--user', 'alice']);
    assert.equal(made.code, 0, made.stderr);
    const { token, id, userId } = JSON.parse(made.stdout);
    assert.equal(userId, aliceId);
    const dir = freshConfigDir();
    assert.equal((await as(dir, ['login', '--token', token])).code, 0);
    const out = await as(dir, ['logout']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(
      out.stdout,
      new RegExp(
        `is an API token: forgot it, but it stays valid until revoked \\(\`appproxy token revoke ${id}\`\\)`,
      ),
    );
    assert.ok(!existsSync(path.join(dir, 'credentials.json')));
    const still = await runCli(['--json', 'whoami'], { env: { APPPROXY_URL: url, APPPROXY_TOKEN: token } });
    assert.equal(still.code, 0, still.stderr);
    const again = await as(dir, ['logout']);
    assert.equal(again.code, 0);
    assert.match(again.stderr, /^not signed in: no stored credentials for /);
  });

  test('user create/list/get/disable/enable/delete as admin; refused as a user', async () => {
    const created = await admin(
      ['user', 'create', 'bob', '--display-name', 'Bob', '--password-stdin'],
      stdinOf('bob-password-1\n'),
    );
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^Name\s+bob$/m);
    assert.match(created.stdout, /^Password\s+set$/m);
    const bobId = /^ID\s+(\S+)$/m.exec(created.stdout)![1]!;
    const nopw = await admin(['user', 'create', 'carol', '--role', 'admin']);
    assert.equal(nopw.code, 0, nopw.stderr);
    assert.match(nopw.stderr, /user carol has no password: set one with `appproxy user set-password carol`/);
    assert.match(nopw.stdout, /^Role\s+admin$/m);

    const list = await admin(['user', 'list']);
    assert.match(list.stdout, new RegExp(`^bob\\s+${bobId}\\s+user\\s+no\\s+password\\s+Bob\\s`, 'm'));
    assert.match((await admin(['user', 'get', 'bob'])).stdout, new RegExp(`^ID\\s+${bobId}$`, 'm'));

    const bobDir = freshConfigDir();
    const bobLogin = await as(
      bobDir,
      ['login', '--name', 'bob', '--password-stdin'],
      stdinOf('bob-password-1'),
    );
    assert.equal(bobLogin.code, 0, bobLogin.stderr);

    const disabled = await admin(['user', 'disable', 'bob']);
    assert.equal(disabled.code, 0, disabled.stderr);
    assert.equal(disabled.stdout, 'user bob disabled: their sign-ins ended and their app access is cut\n');
    const cut = await as(bobDir, ['whoami']);
    assert.equal(cut.code, 1);
    assert.match(cut.stderr, /\[AP_ERR_TOKEN_INVALID\]/);
    const refusedLogin = await as(
      bobDir,
      ['login', '--name', 'bob', '--password-stdin'],
      stdinOf('bob-password-1'),
    );
    assert.match(refusedLogin.stderr, /\[AP_ERR_LOGIN_FAILED\]/);
    const enabled = await admin(['user', 'enable', bobId]);
    assert.equal(enabled.stdout, 'user bob enabled\n');
    const back = await as(bobDir, ['login', '--name', 'bob', '--password-stdin'], stdinOf('bob-password-1'));
    assert.equal(back.code, 0, back.stderr);

    // A user may not manage users.
    const aliceDir = freshConfigDir();
    await loginAlice(aliceDir);
    for (const args of [
      ['user', 'create', 'mallory'],
      ['user', 'list'],
    ]) {
      const r = await as(aliceDir, args);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /\[AP_ERR_FORBIDDEN\]/);
    }
    for (const args of [
      ['user', 'disable', bobId],
      ['user', 'delete', bobId, '--yes'],
    ]) {
      const r = await as(aliceDir, args);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /\[AP_ERR_USER_NOT_FOUND\]/);
    }
    assert.match((await as(aliceDir, ['user', 'get', 'me'])).stdout, /^Name\s+alice$/m);
    assert.equal(JSON.parse((await admin(['--json', 'user', 'get', bobId])).stdout).disabled, false);

    // Deleting asks first on a terminal, refuses to guess off one, and goes ahead with --yes.
    const offTty = await admin(['user', 'delete', 'bob']);
    assert.equal(offTty.code, 2);
    assert.match(offTty.stderr, /deleting a user needs confirmation: pass --yes/);
    const no = scriptedPrompt(['n']);
    const declined = await admin(['user', 'delete', 'bob'], no.io);
    assert.equal(declined.code, 1);
    assert.match(no.asked[0]!.question, /^Delete user bob \(\S+\)\? .*\[y\/N\] $/);
    const yes = scriptedPrompt(['y']);
    const deleted = await admin(['user', 'delete', 'bob'], yes.io);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.stdout, 'user bob deleted\n');
    const gone = await admin(['user', 'get', bobId]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /\[AP_ERR_USER_NOT_FOUND\]/);
  });

  test('user set-password: asked twice without echo (and the current one for me), or piped', async () => {
    await h.api('POST', '/v1/users', { name: 'dave', password: 'dave-password-1' });
    const dir = freshConfigDir();
    assert.equal(
      (await as(dir, ['login', '--name', 'dave', '--password-stdin'], stdinOf('dave-password-1'))).code,
      0,
    );
    const tty = scriptedPrompt(['dave-password-1', 'dave-password-2', 'dave-password-2']);
    const changed = await as(dir, ['user', 'set-password', 'me'], tty.io);
    assert.equal(changed.code, 0, changed.stderr);
    assert.equal(changed.stdout, 'password changed; your other sign-ins ended\n');
    assert.deepEqual(
      tty.asked.map((a) => [a.question, a.echo]),
      [
        ['Current password: ', false],
        ['New password: ', false],
        ['Repeat new password: ', false],
      ],
    );
    const differ = scriptedPrompt(['dave-password-2', 'a-1234567', 'b-1234567']);
    const mismatch = await as(dir, ['user', 'set-password', 'me'], differ.io);
    assert.equal(mismatch.code, 1);
    assert.match(differ.out.stderr, /^error: the passwords do not match$/m);
    // Piped: the current password, then the new one.
    const piped = await as(
      dir,
      ['user', 'set-password', 'me', '--password-stdin'],
      stdinOf('dave-password-2\ndave-password-3\n'),
    );
    assert.equal(piped.code, 0, piped.stderr);
    const wrong = await as(
      dir,
      ['user', 'set-password', 'me', '--password-stdin'],
      stdinOf('nope-nope-1\ndave-password-4\n'),
    );
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /\[AP_ERR_LOGIN_FAILED\]/);
    // An admin sets another user's password without the current one.
    const byAdmin = await admin(
      ['user', 'set-password', 'dave', '--password-stdin'],
      stdinOf('dave-password-5\n'),
    );
    assert.equal(byAdmin.code, 0, byAdmin.stderr);
    assert.equal(byAdmin.stdout, 'password of dave changed; their sign-ins ended\n');
    const relog = await as(
      freshConfigDir(),
      ['login', '--name', 'dave', '--password-stdin'],
      stdinOf('dave-password-5'),
    );
    assert.equal(relog.code, 0, relog.stderr);
  });

  test('login-session list shows live sign-ins with the current one; end <id> and end current', async () => {
    const a = freshConfigDir();
    const b = freshConfigDir();
    await loginAlice(a);
    await loginAlice(b);
    const bId = JSON.parse((await as(b, ['--json', 'whoami'])).stdout).loginSession.id as string;
    const aId = JSON.parse((await as(a, ['--json', 'whoami'])).stdout).loginSession.id as string;

    const list = await as(a, ['login-session', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(
      list.stdout,
      new RegExp(`^${aId} \\(current\\)\\s+${aliceId}\\s+cli\\s+127\\.0\\.0\\.1\\s`, 'm'),
    );
    assert.match(list.stdout, new RegExp(`^${bId}\\s+${aliceId}\\s+cli\\s`, 'm'));

    const ended = await as(a, ['login-session', 'end', bId]);
    assert.equal(ended.code, 0, ended.stderr);
    assert.equal(ended.stdout, `login session ${bId} ended\n`);
    assert.match((await as(b, ['whoami'])).stderr, /\[AP_ERR_TOKEN_INVALID\]/);
    const live = JSON.parse((await as(a, ['--json', 'login-session', 'list'])).stdout).items as {
      id: string;
    }[];
    assert.ok(!live.some((l) => l.id === bId));
    const all = await as(a, ['login-session', 'list', '--all']);
    assert.match(all.stdout, new RegExp(`^${bId}\\s.*\\S+ \\(ended\\)$`, 'm'));
    // Admins list one user's by name.
    const byAdmin = JSON.parse((await admin(['--json', 'login-session', 'list', '--user', 'alice'])).stdout);
    assert.ok(byAdmin.items.some((l: { id: string }) => l.id === aId));
    assert.ok(byAdmin.items.every((l: { userId: string }) => l.userId === aliceId));

    const current = await as(a, ['login-session', 'end', 'current']);
    assert.equal(current.code, 0, current.stderr);
    assert.match(
      current.stdout,
      new RegExp(`^login session ${aId} ended\\nThis was the sign-in this CLI uses`),
    );
    assert.match((await as(a, ['whoami'])).stderr, /\[AP_ERR_TOKEN_INVALID\]/);
  });

  test('logout-uri add/list/remove as admin; users may not', async () => {
    const added = await admin([
      'logout-uri',
      'add',
      'https://platform.example/logout',
      '--next-param',
      'next',
      '--description',
      'the platform',
    ]);
    assert.equal(added.code, 0, added.stderr);
    const id = /^ID\s+(\S+)$/m.exec(added.stdout)![1]!;
    assert.match(added.stdout, /^Next param\s+next$/m);
    const list = await admin(['logout-uri', 'list']);
    assert.match(
      list.stdout,
      new RegExp(`^${id}\\s+https://platform\\.example/logout\\s+next\\s+the platform$`, 'm'),
    );
    const dir = freshConfigDir();
    await loginAlice(dir);
    const refused = await as(dir, ['logout-uri', 'list']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /\[AP_ERR_FORBIDDEN\]/);
    const removed = await admin(['logout-uri', 'remove', id]);
    assert.equal(removed.stdout, `logout URI ${id} (https://platform.example/logout) removed\n`);
    const empty = await admin(['--json', 'logout-uri', 'list']);
    assert.ok(!JSON.parse(empty.stdout).items.some((u: { id: string }) => u.id === id));
  });

  test('flags list/set/unset/changes as admin; bad values and unknown names refused; users may not', async () => {
    const list = await admin(['flags', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^liveEvents\s+on\s+on\s+-\s+/m);
    const set = await admin(['flags', 'set', 'logoutRevocation', 'off', '--scope', 'worker:port-9']);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^Overrides\s+worker:port-9=off$/m);
    assert.match(set.stdout, /^Value\s+on$/m, 'globally still on');
    const bad = await admin(['flags', 'set', 'logoutRevocation', 'maybe']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /"on" or "off"/);
    const unknown = await admin(['flags', 'get', 'noSuchFlag']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /\[AP_ERR_FLAG_NOT_FOUND\]/);
    const unset = await admin(['flags', 'unset', 'logoutRevocation', '--scope', 'worker:port-9']);
    assert.match(unset.stdout, /^Overrides\s+-$/m);
    const changes = await admin(['flags', 'changes', 'logoutRevocation']);
    assert.match(changes.stdout, /logoutRevocation\s+worker:port-9\s+set off\s+admin/);
    assert.match(changes.stdout, /logoutRevocation\s+worker:port-9\s+unset \(was off\)\s+admin/);
    const dir = freshConfigDir();
    await loginAlice(dir);
    const refused = await as(dir, ['flags', 'set', 'liveEvents', 'off']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /\[AP_ERR_FORBIDDEN\]/);
  });

  test('browser approval: login prints the link and code, the browser approves, logout ends that sign-in', async () => {
    const dir = freshConfigDir();
    const env = { APPPROXY_URL: url, APPPROXY_CONFIG_DIR: dir, APPPROXY_DATA_DIR: emptyDataDir() };
    const cookie = await browserLogin(url, 'alice', ALICE_PASSWORD);
    const cli = startLogin([], env);
    const { url: link, code } = await cli.code();
    assert.match(code, /^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
    assert.equal(link, `${url}/cli-login?code=${code}`);
    assert.ok(!existsSync(path.join(dir, 'credentials.json')));
    await approveInBrowser(link, cookie, code);
    assert.equal(await cli.done, 0, cli.out().stderr);
    assert.equal(
      cli.out().stdout,
      `Signed in as alice to ${url}\nCredentials saved in ${path.join(dir, 'credentials.json')}\n`,
    );
    const token = stored(dir).token as string;
    assert.match(token, /^apl_/);
    assert.ok(!cli.out().stdout.includes(token) && !cli.out().stderr.includes(token));
    assert.equal(mode(path.join(dir, 'credentials.json')), 0o600);

    const who = JSON.parse((await as(dir, ['--json', 'whoami'])).stdout);
    assert.equal(who.via, 'login-session');
    assert.equal(who.loginSession.kind, 'cli');
    assert.ok(who.loginSession.parentId, 'a child of the browser sign-in');
    const cliSession = who.loginSession.id as string;

    const out = await as(dir, ['logout']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(
      out.stdout,
      new RegExp(`^Signed out alice from ${url}\\.\\nEnded login session: ${cliSession}\\n`),
    );
    assert.match(out.stdout, new RegExp(`Removed ${path.join(dir, 'credentials.json')}\\n$`));
    assert.ok(!existsSync(path.join(dir, 'credentials.json')));
    const ls = await h.api('GET', `/v1/login-sessions/${cliSession}`);
    assert.ok(ls.body.endedAt, ls.text);
    assert.equal(ls.body.endReason, 'logout');
    const dead = await runCli(['whoami'], { env: { APPPROXY_URL: url, APPPROXY_TOKEN: token } });
    assert.match(dead.stderr, /\[AP_ERR_TOKEN_INVALID\]/);
    // Only the CLI's sign-in ended: the browser's is still signed in.
    const browser = await h.api('GET', `/v1/login-sessions/${who.loginSession.parentId}`);
    assert.equal(browser.body.endedAt, null);
  });

  test('logout --everywhere ends every sign-in of the user and lists the logout URIs for a browser', async () => {
    const uri = await h.api('POST', '/v1/logout-uris', {
      uri: 'https://platform.example/bye',
      nextParam: 'next',
    });
    assert.equal(uri.status, 201, uri.text);
    try {
      const a = freshConfigDir();
      const b = freshConfigDir();
      await loginAlice(a);
      await loginAlice(b);
      const bId = JSON.parse((await as(b, ['--json', 'whoami'])).stdout).loginSession.id as string;
      const out = await as(a, ['logout', '--everywhere']);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /^Ended \d+ login sessions: /m);
      assert.ok(out.stdout.includes(bId));
      assert.match(
        out.stdout,
        /open in that browser:\n\n {2}http:\/\/127\.0\.0\.1:\d+\/logout\/walk\?state=\S+\n/,
      );
      assert.match(out.stdout, /^ {2}https:\/\/platform\.example\/bye \(added by an admin\)$/m);
      assert.match((await as(b, ['whoami'])).stderr, /\[AP_ERR_TOKEN_INVALID\]/);
      const live = await h.api('GET', `/v1/login-sessions?user=${aliceId}&live=true`);
      assert.deepEqual(live.body.items, []);
    } finally {
      await h.api('DELETE', `/v1/logout-uris/${uri.body.id}`);
    }
  });

  test('Ctrl-C stops waiting for the approval and stores nothing', async () => {
    const dir = freshConfigDir();
    const cli = startLogin([], {
      APPPROXY_URL: url,
      APPPROXY_CONFIG_DIR: dir,
      APPPROXY_DATA_DIR: emptyDataDir(),
    });
    await cli.code();
    cli.interrupt();
    assert.equal(await cli.done, 1);
    assert.match(cli.out().stderr, /^error: sign-in cancelled; nothing was stored$/m);
    assert.ok(!existsSync(path.join(dir, 'credentials.json')));
  });
});

describe('CLI browser sign-in against a canned manager', () => {
  let fake: FakeManager;
  before(async () => {
    fake = await new FakeManager().start();
  });
  after(() => fake.stop());

  test('a request that expires before approval is a clear failure', async () => {
    fake.on('POST /v1/auth/cli-login', {
      body: {
        deviceCode: 'device-code-0123456789',
        userCode: 'ABCD-EFGH',
        verificationUri: `${fake.url}/cli-login`,
        verificationUriComplete: `${fake.url}/cli-login?code=ABCD-EFGH`,
        expiresInSeconds: 600,
        intervalSeconds: 1,
      },
    });
    let polls = 0;
    fake.on('POST /v1/auth/cli-login/poll', () =>
      ++polls < 2
        ? { body: { state: 'pending' } }
        : {
            status: 404,
            body: { code: 'AP_ERR_NOT_FOUND', message: 'This CLI sign-in expired.', requestId: 'r' },
          },
    );
    const dir = freshConfigDir();
    const r = await runCli(['login'], {
      env: { APPPROXY_URL: fake.url, APPPROXY_CONFIG_DIR: dir, APPPROXY_TOKEN: 'stale-token' },
      io: { sleep: async () => {} },
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Open http:\/\/\S+\/cli-login\?code=ABCD-EFGH and approve code ABCD-EFGH$/m);
    assert.match(
      r.stderr,
      /^error: the sign-in request expired before it was approved; run `appproxy login` again$/m,
    );
    assert.equal(polls, 2);
    const start = fake.requests.find((q) => q.url === '/v1/auth/cli-login')!;
    assert.match((start.body as { publicKey: string }).publicKey, /^[A-Za-z0-9_-]{43}$/);
    // Sign-in routes are public: no token is sent, even a stale one.
    assert.equal(start.authorization, undefined);
    assert.ok(!existsSync(path.join(dir, 'credentials.json')));
  });
});
