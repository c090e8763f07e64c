/** Configs of the split processes: defaults, sources, unknown keys, discriminated unions. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadManagerConfig, validateAgentConfig } from '../../../src/config/load.ts';

const stores = {
  sql: { url: 'postgres://appproxy@db/appproxy' },
  kv: { endpoints: ['http://etcd-1:2379'] },
  counters: { url: 'redis://cache:6379' },
};

test('manager: defaults, env overrides store URLs and port, flags win', async () => {
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const file = join(mkdtempSync(join(tmpdir(), 'ap-cfg-')), 'm.json');
  writeFileSync(file, JSON.stringify({ stores, listen: { port: 7001 } }));
  const c = loadManagerConfig({
    file,
    env: { APPPROXY_ETCD_ENDPOINTS: 'http://a:2379, http://b:2379', APPPROXY_PORT: '7002' },
    flags: { port: 7003 },
  });
  assert.deepEqual(c.stores.kv.endpoints, ['http://a:2379', 'http://b:2379']);
  assert.equal(c.listen.port, 7003);
  assert.deepEqual(c.agent, { kind: 'remote', name: 'agent-1', terminateTimeout: '30s' });
  assert.equal(c.setupTokenKeyFile, 'setup-token-key.jwk');
  assert.ok(Object.isFrozen(c.stores));
});

test('manager: missing stores, unknown keys and a bad agent kind are named', async () => {
  const { validateManagerConfig } = await import('../../../src/config/load.ts');
  assert.throws(() => validateManagerConfig({}), /stores/);
  assert.throws(() => validateManagerConfig({ stores, adminToken: 'x' }), /unknown key "adminToken"/);
  assert.throws(() => validateManagerConfig({ stores, agent: { kind: 'grpc' } }), /\/agent\/kind/);
  assert.throws(
    () => validateManagerConfig({ stores, agent: { kind: 'remote', templates: [] } }),
    /unknown key "templates"/,
  );
  const local = validateManagerConfig({ stores, agent: { kind: 'local' } });
  assert.equal(local.agent.kind === 'local' && local.agent.name, 'local');
});

test('worker and agent validation', async () => {
  const { validateWorkerConfig } = await import('../../../src/config/load.ts');
  const base = { stores: { kv: stores.kv, counters: stores.counters } };
  const p = validateWorkerConfig({
    ...base,
    authority: 'port-1',
    frontendMode: 'port',
    portRange: [7100, 7199],
  });
  assert.equal(p.frontendMode, 'port');
  assert.equal(p.admin.port, 9100);
  const wc = validateWorkerConfig({ ...base, authority: 'wc-1', frontendMode: 'wildcard' });
  assert.equal(wc.frontendMode === 'wildcard' && wc.wildcardDomain, 'apps.localhost');
  assert.throws(() => validateWorkerConfig({ ...base, authority: 'x', frontendMode: 'port' }), /portRange/);
  assert.throws(
    () => validateWorkerConfig({ ...base, authority: 'x', frontendMode: 'wildcard', portRange: [1, 2] }),
    /unknown key "portRange"/,
  );
  assert.throws(() => validateWorkerConfig({ ...base, authority: 'x', frontendMode: 'tcp' }), /frontendMode/);
  assert.throws(
    () => validateWorkerConfig({ ...base, authority: 'x', frontendMode: 'port', portRange: [2, 1] }),
    /first port/,
  );
  const a = validateAgentConfig({ stores: { kv: stores.kv } });
  assert.equal(a.name, 'agent-1');
  assert.throws(
    () => validateAgentConfig({ stores: { kv: stores.kv }, cookieSecret: 'x' }),
    /unknown key "cookieSecret"/,
  );
  assert.throws(() => validateAgentConfig({ stores: { kv: stores.kv }, leaseTtl: 'soon' }), /leaseTtl/);
});
