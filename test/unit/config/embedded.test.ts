import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadEmbeddedConfig, validateEmbeddedConfig } from '../../../src/config/load.ts';
import { AppProxyError } from '../../../src/contracts/errors.ts';
import { parseDurationMs } from '../../../src/core/duration.ts';

test('defaults give a manager, a port-mode and a wildcard-mode worker', () => {
  const c = loadEmbeddedConfig({ env: {} });
  assert.equal(c.manager.port, 7070);
  assert.deepEqual(
    c.workers.map((w) => w.frontendMode),
    ['port', 'wildcard'],
  );
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.manager));
});

test('file < env < flags', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ap-cfg-'));
  const file = join(dir, 'c.json');
  writeFileSync(
    file,
    JSON.stringify({ manager: { port: 1111, setupTokenTtl: '20s' }, dataDir: '/from-file' }),
  );
  assert.equal(loadEmbeddedConfig({ file, env: {} }).manager.port, 1111);
  const c = loadEmbeddedConfig({ file, env: { APPPROXY_PORT: '2222', APPPROXY_DATA_DIR: '/from-env' } });
  assert.equal(c.manager.port, 2222);
  assert.equal(c.manager.setupTokenTtl, '20s');
  assert.equal(c.dataDir, '/from-env');
  const f = loadEmbeddedConfig({
    file,
    env: { APPPROXY_PORT: '2222' },
    flags: { port: 3333, dataDir: '/flag' },
  });
  assert.equal(f.manager.port, 3333);
  assert.equal(f.dataDir, '/flag');
});

test('unknown keys are refused with the key named', () => {
  assert.throws(
    () => validateEmbeddedConfig({ manager: { prot: 1 } }),
    (err: unknown) =>
      err instanceof AppProxyError &&
      err.code === 'AP_ERR_CONFIG_INVALID' &&
      /\/manager\/prot: unknown key "prot"/.test(err.message),
  );
  assert.throws(() => validateEmbeddedConfig({ workerz: [] }), /unknown key "workerz"/);
});

test('wrong types, bad durations and bad worker entries are refused with the field named', () => {
  assert.throws(() => validateEmbeddedConfig({ manager: { port: 'x' } }), /\/manager\/port/);
  assert.throws(
    () => validateEmbeddedConfig({ worker: { cookieTtl: '12 hours' } }),
    /\/worker\/cookieTtl: invalid duration/,
  );
  assert.throws(
    () =>
      validateEmbeddedConfig({
        workers: [{ authority: 'p', frontendMode: 'port', portRange: [9000, 8000] }],
      }),
    /\/workers\/0\/portRange/,
  );
  assert.throws(
    () =>
      validateEmbeddedConfig({
        workers: [
          { authority: 'a', frontendMode: 'wildcard' },
          { authority: 'a', frontendMode: 'wildcard', port: 0 },
        ],
      }),
    /unique/,
  );
});

test('a malformed config file is reported with its path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ap-cfg-'));
  const file = join(dir, 'bad.json');
  writeFileSync(file, '{ nope');
  assert.throws(
    () => loadEmbeddedConfig({ file, env: {} }),
    (e: Error) => e.message.includes(file),
  );
});

test('durations', () => {
  assert.equal(parseDurationMs('500ms'), 500);
  assert.equal(parseDurationMs('30s'), 30_000);
  assert.equal(parseDurationMs('2m'), 120_000);
  assert.equal(parseDurationMs('1.5h'), 5_400_000);
  assert.equal(parseDurationMs(250), 250);
  assert.throws(() => parseDurationMs('soon'), /invalid duration/);
  assert.throws(() => parseDurationMs(-1), /invalid duration/);
});

test('admin templates are validated with the config, with the key named', () => {
  assert.throws(
    () =>
      validateEmbeddedConfig({
        agent: {
          templates: [{ name: 'x', description: '', services: [{ name: 'w', protocol: 'http', cmd: [] }] }],
        },
      }),
    /\/agent\/templates: .*unknown key "cmd"/,
  );
});
