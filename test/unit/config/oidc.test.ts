/**
 * `auth.oidc` of both process kinds: off by default, defaults filled in, http issuers on loopback
 * only, the client secret from the environment or its file, and the user-name rule for new users.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  managerAuthOptions,
  validateEmbeddedConfig,
  validateManagerConfig,
} from '../../../src/config/load.ts';
import { AppProxyError } from '../../../src/contracts/errors.ts';
import { isLoopbackUrl, sanitizeUserName } from '../../../src/manager/services/oidc.ts';

const provider = { issuer: 'https://idp.example.com/realms/x', clientId: 'appproxy' };

test('oidc is off unless configured; configured, its defaults are filled in', () => {
  assert.equal(validateEmbeddedConfig({}).manager.auth.oidc, null);
  assert.equal(managerAuthOptions(validateEmbeddedConfig({}).manager, {}).oidc, null);
  const c = validateEmbeddedConfig({ manager: { auth: { oidc: provider } } });
  const o = managerAuthOptions(c.manager, {}).oidc!;
  assert.deepEqual(o, {
    ...provider,
    clientSecret: null,
    scopes: ['openid', 'profile', 'email'],
    nameClaim: 'preferred_username',
    groupsClaim: 'groups',
    adminGroups: [],
    label: 'Sign in with single sign-on',
    autoCreateUsers: true,
  });
  const m = validateManagerConfig({
    stores: {
      sql: { url: 'postgres://x/y' },
      kv: { endpoints: ['http://127.0.0.1:2379'] },
      counters: { url: 'redis://127.0.0.1' },
    },
    auth: { oidc: provider },
  });
  assert.equal(m.auth.oidc?.clientId, 'appproxy');
});

test('an http issuer is refused unless it is on loopback; unknown keys are named', () => {
  assert.throws(
    () =>
      validateEmbeddedConfig({
        manager: { auth: { oidc: { ...provider, issuer: 'http://idp.example.com' } } },
      }),
    (e: unknown) => e instanceof AppProxyError && /\/manager\/auth\/oidc\/issuer/.test(e.message),
  );
  for (const issuer of ['http://127.0.0.1:9000', 'http://localhost:9000', 'http://[::1]:9000'])
    assert.ok(validateEmbeddedConfig({ manager: { auth: { oidc: { ...provider, issuer } } } }));
  assert.throws(
    () => validateEmbeddedConfig({ manager: { auth: { oidc: { ...provider, clientSecret: 'inline' } } } }),
    /unknown key "clientSecret"/,
  );
  assert.equal(isLoopbackUrl('http://127.8.9.10/'), true);
  assert.equal(isLoopbackUrl('http://10.0.0.1/'), false);
  assert.equal(isLoopbackUrl('http://localhost.example.com/'), false);
});

test('the client secret comes from APPPROXY_OIDC_CLIENT_SECRET, else from its file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ap-oidc-'));
  const file = join(dir, 'secret');
  writeFileSync(file, 'from-file\n', { mode: 0o600 });
  const c = validateEmbeddedConfig({ manager: { auth: { oidc: { ...provider, clientSecretFile: file } } } });
  assert.equal(managerAuthOptions(c.manager, {}).oidc?.clientSecret, 'from-file');
  assert.equal(
    managerAuthOptions(c.manager, { APPPROXY_OIDC_CLIENT_SECRET: 'from-env' }).oidc?.clientSecret,
    'from-env',
  );
  const missing = validateEmbeddedConfig({
    manager: { auth: { oidc: { ...provider, clientSecretFile: join(dir, 'nope') } } },
  });
  assert.throws(() => managerAuthOptions(missing.manager, {}), /client secret file/);
});

test('user names from claims follow the user-name rule', () => {
  assert.equal(sanitizeUserName('Alice'), 'alice');
  assert.equal(sanitizeUserName('José María'), 'jose-maria');
  assert.equal(sanitizeUserName('__root__'), 'root');
  assert.equal(sanitizeUserName('a'.repeat(100)), 'a'.repeat(63));
  assert.equal(sanitizeUserName('日本'), null);
  assert.equal(sanitizeUserName('...'), null);
});
