/**
 * Identity through the API: users with passwords, sign-in and its limits, API tokens, login
 * sessions (platform-created ones included), sign-out with its logout URI list, and what each of
 * them projects for the workers (revocation records in KV).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseRevocation, type RevocationRecord } from '../../../src/contracts/auth.ts';
import { kvKeys } from '../../../src/contracts/kv-layout.ts';
import { assertEnvelope, ManagerHarness } from './harness.ts';

async function revocations(h: ManagerHarness): Promise<RevocationRecord[]> {
  const { entries } = await h.kv.getPrefix(kvKeys.revocations());
  return entries.map((e) => parseRevocation(e.value)!).filter(Boolean);
}

describe('identity', () => {
  let h: ManagerHarness;
  before(async () => {
    h = await ManagerHarness.create({
      manager: { auth: { loginLimits: { perUser: 3, perAddress: 1000, windowMs: 60_000 } } },
    });
  });
  after(async () => {
    await h.close();
  });

  test('an admin creates a user with a password; the user signs in and sees only themselves', async () => {
    const created = await h.api('POST', '/v1/users', {
      name: 'alice',
      password: 'correct horse',
      displayName: 'Alice',
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.role, 'user');
    assert.equal(created.body.hasPassword, true);
    assert.ok(!created.text.includes('correct horse'));
    const { rows } = await h.sql.query<{ password_hash: string }>(
      `SELECT password_hash FROM users WHERE name = 'alice'`,
    );
    assert.match(rows[0]!.password_hash, /^scrypt\$15\$8\$1\$/);

    const login = await h.api('POST', '/v1/auth/login', { name: 'alice', password: 'correct horse' }, null);
    assert.equal(login.status, 200, login.text);
    assert.match(login.body.token, /^apl_/);
    assert.equal(login.body.loginSession.userId, created.body.id);
    const me = await h.api('GET', '/v1/auth/whoami', undefined, login.body.token);
    assert.equal(me.status, 200, me.text);
    assert.equal(me.body.user.name, 'alice');
    assert.equal(me.body.via, 'login-session');
    assert.equal(me.body.loginSession.id, login.body.loginSession.id);
    assertEnvelope(await h.api('GET', '/v1/users', undefined, login.body.token), 403, 'AP_ERR_FORBIDDEN');
    assertEnvelope(
      await h.api('GET', '/v1/users/admin', undefined, login.body.token),
      404,
      'AP_ERR_USER_NOT_FOUND',
    );
    assert.equal((await h.api('GET', '/v1/users/me', undefined, login.body.token)).body.name, 'alice');
  });

  test('wrong name and wrong password get the same answer; failures past the limit are refused', async () => {
    await h.api('POST', '/v1/users', { name: 'bob', password: 'bob-password-1' });
    const noUser = await h.api('POST', '/v1/auth/login', { name: 'nobody', password: 'whatever-123' }, null);
    const wrong = await h.api('POST', '/v1/auth/login', { name: 'bob', password: 'wrong-password' }, null);
    assertEnvelope(noUser, 401, 'AP_ERR_LOGIN_FAILED');
    assertEnvelope(wrong, 401, 'AP_ERR_LOGIN_FAILED');
    assert.equal(noUser.body.message, wrong.body.message);
    await h.api('POST', '/v1/auth/login', { name: 'bob', password: 'wrong-password' }, null);
    await h.api('POST', '/v1/auth/login', { name: 'bob', password: 'wrong-password' }, null);
    // Three failures: even the right password waits for the window now.
    const limited = await h.api('POST', '/v1/auth/login', { name: 'bob', password: 'bob-password-1' }, null);
    assertEnvelope(limited, 429, 'AP_ERR_RATE_LIMITED');
    assert.ok(Number(limited.headers['retry-after']) > 0);
  });

  test('API tokens: created once with their secret, listed without it, revoked with a revocation record', async () => {
    const login = await h.api('POST', '/v1/auth/login', { name: 'alice', password: 'correct horse' }, null);
    const t = await h.api('POST', '/v1/tokens', { name: 'ci', expiresIn: '1d' }, login.body.token);
    assert.equal(t.status, 201, t.text);
    assert.match(t.body.token, /^ap_/);
    const list = await h.api('GET', '/v1/tokens', undefined, login.body.token);
    assert.ok(list.body.items.some((x: { id: string }) => x.id === t.body.id));
    assert.ok(!list.text.includes(t.body.token));
    assert.equal((await h.api('GET', '/v1/auth/whoami', undefined, t.body.token)).body.tokenId, t.body.id);
    // Scopes are for admins to hand out.
    assertEnvelope(
      await h.api('POST', '/v1/tokens', { name: 'x', scopes: ['login-sessions'] }, login.body.token),
      403,
      'AP_ERR_FORBIDDEN',
    );
    const revoked = await h.api('DELETE', `/v1/tokens/${t.body.id}`, undefined, login.body.token);
    assert.equal(revoked.body.state, 'revoked');
    assertEnvelope(
      await h.api('GET', '/v1/auth/whoami', undefined, t.body.token),
      401,
      'AP_ERR_TOKEN_INVALID',
    );
    const rec = (await revocations(h)).find((r) => r.kind === 'token' && r.subject === t.body.id);
    assert.ok(rec, 'a token revocation is in KV');
    assert.ok(rec.expiresAt > Date.now());
  });

  test('logout ends the login session, revokes it for the workers and answers the logout URI list', async () => {
    await h.api('POST', '/v1/logout-uris', { uri: 'https://platform.example/logout', nextParam: 'next' });
    const login = await h.api('POST', '/v1/auth/login', { name: 'alice', password: 'correct horse' }, null);
    const out = await h.api('POST', '/v1/auth/logout', {}, login.body.token);
    assert.equal(out.status, 200, out.text);
    assert.deepEqual(out.body.ended, [login.body.loginSession.id]);
    assert.ok(out.body.logoutUris.some((s: { uri: string }) => s.uri === 'https://platform.example/logout'));
    assert.match(out.body.chainUrl, /\/logout\/walk\?state=/);
    assertEnvelope(
      await h.api('GET', '/v1/auth/whoami', undefined, login.body.token),
      401,
      'AP_ERR_TOKEN_INVALID',
    );
    const rec = (await revocations(h)).find(
      (r) => r.kind === 'login-session' && r.subject === login.body.loginSession.id,
    );
    assert.ok(rec, 'a login-session revocation is in KV');
    assert.equal(rec.reason, 'logout');
  });

  test('a platform token signs users in and ends their login sessions; others may not', async () => {
    const svc = await h.api('POST', '/v1/tokens', { name: 'platform', scopes: ['login-sessions'] });
    assert.equal(svc.status, 201, svc.text);
    const made = await h.api(
      'POST',
      '/v1/login-sessions',
      { user: 'alice', clientAddress: '203.0.113.9' },
      svc.body.token,
    );
    assert.equal(made.status, 201, made.text);
    assert.equal(made.body.loginSession.kind, 'platform');
    const asAlice = await h.api('GET', '/v1/auth/whoami', undefined, made.body.token);
    assert.equal(asAlice.body.user.name, 'alice');
    const alice = await h.api('POST', '/v1/auth/login', { name: 'alice', password: 'correct horse' }, null);
    assertEnvelope(
      await h.api('POST', '/v1/login-sessions', { user: 'bob' }, alice.body.token),
      403,
      'AP_ERR_FORBIDDEN',
    );
    const ended = await h.api(
      'DELETE',
      `/v1/login-sessions/${made.body.loginSession.id}?reason=platform-logout`,
      undefined,
      svc.body.token,
    );
    assert.equal(ended.status, 200, ended.text);
    assert.equal(ended.body.items[0].endReason, 'platform-logout');
    assertEnvelope(
      await h.api('GET', '/v1/auth/whoami', undefined, made.body.token),
      401,
      'AP_ERR_TOKEN_INVALID',
    );
  });

  test('disabling a user cuts every sign-in of theirs and puts a user revocation; deleting frees the name', async () => {
    await h.api('POST', '/v1/users', { name: 'carol', password: 'carol-password' });
    const login = await h.api('POST', '/v1/auth/login', { name: 'carol', password: 'carol-password' }, null);
    const id = login.body.loginSession.userId as string;
    const disabled = await h.api('PATCH', `/v1/users/${id}`, { disabled: true });
    assert.equal(disabled.body.disabled, true);
    assertEnvelope(
      await h.api('GET', '/v1/auth/whoami', undefined, login.body.token),
      401,
      'AP_ERR_TOKEN_INVALID',
    );
    assertEnvelope(
      await h.api('POST', '/v1/auth/login', { name: 'carol', password: 'carol-password' }, null),
      401,
      'AP_ERR_LOGIN_FAILED',
    );
    assert.ok((await revocations(h)).some((r) => r.kind === 'user' && r.subject === id));
    const deleted = await h.api('DELETE', `/v1/users/${id}`);
    assert.equal(deleted.status, 200, deleted.text);
    const again = await h.api('POST', '/v1/users', { name: 'carol', password: 'carol-password' });
    assert.equal(again.status, 201, again.text);
    assert.notEqual(again.body.id, id);
  });

  test('a user changes their password with the current one; their other sign-ins end', async () => {
    await h.api('POST', '/v1/users', { name: 'dave', password: 'dave-password' });
    const a = await h.api('POST', '/v1/auth/login', { name: 'dave', password: 'dave-password' }, null);
    const b = await h.api('POST', '/v1/auth/login', { name: 'dave', password: 'dave-password' }, null);
    assertEnvelope(
      await h.api(
        'PUT',
        '/v1/users/me/password',
        { password: 'new-password-1', currentPassword: 'nope-nope' },
        a.body.token,
      ),
      401,
      'AP_ERR_LOGIN_FAILED',
    );
    const ok = await h.api(
      'PUT',
      '/v1/users/me/password',
      { password: 'new-password-1', currentPassword: 'dave-password' },
      a.body.token,
    );
    assert.equal(ok.status, 204, ok.text);
    assert.equal((await h.api('GET', '/v1/auth/whoami', undefined, a.body.token)).status, 200);
    assertEnvelope(
      await h.api('GET', '/v1/auth/whoami', undefined, b.body.token),
      401,
      'AP_ERR_TOKEN_INVALID',
    );
  });
});
