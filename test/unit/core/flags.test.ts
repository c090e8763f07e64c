/** Feature flags: scopes parsed strictly, the most specific override wins, worker values change together. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { evaluateFlag, FLAG_NAMES, FLAGS, isFlagName, parseFlagScope } from '../../../src/contracts/flags.ts';
import { WorkerFlags } from '../../../src/worker/control/flags.ts';

describe('feature flags', () => {
  test('scopes: global, worker:<authority>, user:<id>; nothing else', () => {
    assert.deepEqual(parseFlagScope('global'), { kind: 'global', subject: null });
    assert.deepEqual(parseFlagScope('worker:port-1'), { kind: 'worker', subject: 'port-1' });
    assert.deepEqual(parseFlagScope('user:3cd35bfb-5a1f'), { kind: 'user', subject: '3cd35bfb-5a1f' });
    for (const bad of [
      '',
      'Global',
      'worker:',
      'worker:a b',
      'group:x',
      'user:a/b',
      `worker:${'a'.repeat(129)}`,
    ])
      assert.equal(parseFlagScope(bad), null, bad);
  });

  test('the most specific override wins: user, then worker, then global, then the default', () => {
    const name = 'logoutRevocation';
    assert.equal(evaluateFlag(name, undefined), FLAGS[name].default);
    const o = { global: false, 'worker:w1': true, 'user:u1': false };
    assert.equal(evaluateFlag(name, o), false);
    assert.equal(evaluateFlag(name, o, { worker: 'w1' }), true);
    assert.equal(evaluateFlag(name, o, { worker: 'w2' }), false);
    assert.equal(evaluateFlag(name, o, { worker: 'w1', user: 'u1' }), false);
    assert.equal(evaluateFlag(name, { 'worker:w1': false }, { worker: 'w2' }), true, 'default elsewhere');
  });

  test('names are the registry only (no prototype keys)', () => {
    assert.ok(FLAG_NAMES.every(isFlagName));
    for (const bad of ['toString', '__proto__', 'constructor', 'LIVEEVENTS'])
      assert.equal(isFlagName(bad), false);
  });

  test('worker values: listeners hear a change once, not a repeat; junk is ignored', () => {
    const f = new WorkerFlags();
    const heard: boolean[] = [];
    f.onChange((v) => heard.push(v.endpointRetries));
    f.set({ endpointRetries: false });
    f.set({ endpointRetries: false });
    f.set({ endpointRetries: 'no' as unknown as boolean });
    assert.deepEqual(heard, [false]);
    assert.equal(f.enabled('endpointRetries'), false);
    assert.equal(f.enabled('liveEvents'), FLAGS.liveEvents.default);
  });
});
