/**
 * Where `appproxy login` keeps credentials, how they are written (owner-only), and the order in
 * which the CLI picks its URL and token (`resolveConnection`, the one place that decides).
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Static } from 'typebox';
import {
  configDir,
  credentialsPath,
  readCredentials,
  removeCredentials,
  sameManager,
  writeCredentials,
} from '../../../src/cli/credentials.ts';
import { type CliIo, defaultIo, resolveConnection } from '../../../src/cli/runtime.ts';
import type * as Client from '../../../src/client/identity-types.ts';
import type * as S from '../../../src/manager/auth-schemas.ts';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'appproxy-cred-'));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const mode = (p: string) => statSync(p).mode & 0o777;
const creds = (url: string, token = 'apl_stored') => ({
  url,
  token,
  user: 'alice',
  savedAt: '2030-01-01T00:00:00.000Z',
});

describe('the config folder', () => {
  it('is $APPPROXY_CONFIG_DIR, else $XDG_CONFIG_HOME/appproxy, else ~/.config/appproxy; none without a home', () => {
    assert.equal(configDir({ APPPROXY_CONFIG_DIR: '/c', XDG_CONFIG_HOME: '/x', HOME: '/h' }), '/c');
    assert.equal(configDir({ XDG_CONFIG_HOME: '/x', HOME: '/h' }), '/x/appproxy');
    // A relative XDG_CONFIG_HOME is invalid by the XDG spec and ignored.
    assert.equal(configDir({ XDG_CONFIG_HOME: 'rel', HOME: '/h' }), '/h/.config/appproxy');
    assert.equal(configDir({ HOME: '/h' }), '/h/.config/appproxy');
    assert.equal(configDir({}), null);
    assert.equal(credentialsPath({ HOME: '/h' }), '/h/.config/appproxy/credentials.json');
  });
});

describe('writing credentials', () => {
  it('creates a missing folder 0700 and the file 0600', () => {
    const file = path.join(tmp(), 'a', 'appproxy', 'credentials.json');
    writeCredentials(file, creds('http://m:1'));
    assert.equal(mode(path.dirname(file)), 0o700);
    assert.equal(mode(file), 0o600);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), creds('http://m:1'));
    assert.deepEqual(readCredentials(file), creds('http://m:1'));
  });

  it('replaces an existing file that others could read with a 0600 one', () => {
    const dir = tmp();
    const file = path.join(dir, 'credentials.json');
    writeFileSync(file, '{"url":"http://old","token":"old"}', { mode: 0o644 });
    chmodSync(file, 0o644);
    writeCredentials(file, creds('http://m:1', 'apl_new'));
    assert.equal(mode(file), 0o600);
    assert.equal(readCredentials(file)!.token, 'apl_new');
  });

  it('reading narrows a file left readable by others to 0600', () => {
    const file = path.join(tmp(), 'credentials.json');
    writeFileSync(file, JSON.stringify(creds('http://m:1')));
    chmodSync(file, 0o664);
    assert.ok(readCredentials(file));
    assert.equal(mode(file), 0o600);
  });

  it('garbage or a missing file reads as no credentials; removing says whether there were any', () => {
    const dir = tmp();
    const file = path.join(dir, 'credentials.json');
    assert.equal(readCredentials(file), null);
    assert.equal(removeCredentials(file), false);
    writeFileSync(file, 'not json');
    assert.equal(readCredentials(file), null);
    writeFileSync(file, '{"url":"http://m"}');
    assert.equal(readCredentials(file), null);
    assert.equal(removeCredentials(file), true);
  });

  it('compares manager URLs without a trailing slash or host case', () => {
    assert.ok(sameManager('http://Manager:7070/', 'http://manager:7070'));
    assert.ok(!sameManager('http://manager:7070', 'http://manager:7071'));
  });
});

describe('resolveConnection', () => {
  function io(env: Record<string, string | undefined>): CliIo {
    return defaultIo({ env, cwd: tmp() });
  }
  function setup(storedUrl = 'http://stored:7070') {
    const config = tmp();
    writeCredentials(path.join(config, 'credentials.json'), creds(storedUrl));
    const data = tmp();
    writeFileSync(path.join(data, 'admin-token'), 'admin-file-token');
    return { APPPROXY_CONFIG_DIR: config, APPPROXY_DATA_DIR: data };
  }

  it('token: --token > APPPROXY_TOKEN > stored credentials > <data dir>/admin-token', () => {
    const env = setup();
    const flag = resolveConnection({ token: 'flag' }, io({ ...env, APPPROXY_TOKEN: 'env' }));
    assert.deepEqual([flag.token, flag.tokenSource], ['flag', 'flag']);
    const fromEnv = resolveConnection({}, io({ ...env, APPPROXY_TOKEN: 'env' }));
    assert.deepEqual([fromEnv.token, fromEnv.tokenSource], ['env', 'env']);
    const stored = resolveConnection({}, io(env));
    assert.deepEqual(
      [stored.url, stored.urlSource, stored.token, stored.tokenSource],
      ['http://stored:7070', 'credentials', 'apl_stored', 'credentials'],
    );
    const noStore = resolveConnection({}, io({ APPPROXY_DATA_DIR: env.APPPROXY_DATA_DIR }));
    assert.deepEqual(
      [noStore.url, noStore.token, noStore.tokenSource],
      ['http://127.0.0.1:7070', 'admin-file-token', 'file'],
    );
  });

  it('stored credentials count only for their own manager, or when no URL is given', () => {
    const env = setup('http://stored:7070');
    const same = resolveConnection({ url: 'http://stored:7070/' }, io(env));
    assert.deepEqual([same.token, same.tokenSource], ['apl_stored', 'credentials']);
    const other = resolveConnection({}, io({ ...env, APPPROXY_URL: 'http://other:7070' }));
    assert.deepEqual(
      [other.url, other.urlSource, other.token, other.tokenSource],
      ['http://other:7070', 'env', 'admin-file-token', 'file'],
    );
    assert.equal(other.stored, null);
    assert.equal(other.storedElsewhere?.url, 'http://stored:7070');
    const flagUrl = resolveConnection({ url: 'http://third:1' }, io(env));
    assert.deepEqual(
      [flagUrl.url, flagUrl.urlSource, flagUrl.tokenSource],
      ['http://third:1', 'flag', 'file'],
    );
  });

  it('an environment without a config folder reads no credentials', () => {
    const home = tmp();
    mkdirSync(path.join(home, '.config', 'appproxy'), { recursive: true });
    writeCredentials(path.join(home, '.config', 'appproxy', 'credentials.json'), creds('http://h:1'));
    assert.equal(resolveConnection({}, io({ HOME: home })).tokenSource, 'credentials');
    const none = resolveConnection({}, io({}));
    assert.equal(none.credentialsFile, null);
    assert.equal(none.tokenSource, null);
  });
});

// The client's wire types say what the manager's schemas say (this file fails to type-check otherwise).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const drift: [
  Same<Static<typeof S.UserSchema>, Client.User>,
  Same<Static<typeof S.TokenSchema>, Client.ApiToken>,
  Same<Static<typeof S.NewTokenSchema>, Client.NewApiToken>,
  Same<Static<typeof S.LoginSessionSchema>, Client.LoginSession>,
  Same<Static<typeof S.SignedInSchema>, Client.SignedIn>,
  Same<Static<typeof S.LogoutResultSchema>, Client.LogoutResult>,
  Same<Static<typeof S.WhoamiSchema>, Client.Whoami>,
  Same<Static<typeof S.CliLoginStartSchema>, Client.CliLoginStart>,
  Same<Static<typeof S.CliLoginPollSchema>, Client.CliLoginPoll>,
  Same<Static<typeof S.LogoutUriSchema>, Client.LogoutUri>,
  Same<Static<typeof S.CreateUserBody>, Client.CreateUserRequest>,
  Same<Static<typeof S.PatchUserBody>, Client.UpdateUserRequest>,
  Same<Static<typeof S.PasswordBody>, Client.SetPasswordRequest>,
  Same<Static<typeof S.CreateTokenBody>, Client.CreateTokenRequest>,
  Same<Static<typeof S.CreateLoginSessionBody>, Client.CreateLoginSessionRequest>,
  Same<Static<typeof S.CreateLogoutUriBody>, Client.CreateLogoutUriRequest>,
] = [true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true];
void drift;
