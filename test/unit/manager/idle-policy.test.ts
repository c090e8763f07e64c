/** Idle and TCP policy settings (defaults, conversion, consistency) and the explanation of each policy. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { managerPolicies, validateEmbeddedConfig, validateManagerConfig } from '../../../src/config/load.ts';
import { explainPolicies } from '../../../src/manager/services/activity.ts';

describe('configuration of TCP and idle policies', () => {
  test('defaults, conversion to milliseconds, and both process kinds', () => {
    const up = validateEmbeddedConfig({});
    assert.deepEqual(managerPolicies(up.manager), {
      tcp: { defaultAccess: 'tunnel', allowPublic: false, maxConnectionsPerCircuit: 256 },
      idlePolicy: {
        defaultConnectionIdleTimeoutMs: 30 * 60_000,
        defaultCircuitIdleTimeoutMs: null,
        defaultSessionIdleTimeoutMs: null,
        minTimeoutMs: 1000,
        maxTimeoutMs: 7 * 24 * 3600 * 1000,
        allowNever: true,
        checkIntervalMs: 5000,
      },
      endpoints: { allowPublic: false },
    });
    const m = validateManagerConfig({
      stores: {
        sql: { url: 'postgres://x/y' },
        kv: { endpoints: ['http://127.0.0.1:2379'] },
        counters: { url: 'redis://x' },
      },
      tcp: { allowPublic: true, defaultAccess: 'public', maxConnectionsPerCircuit: 8 },
      idlePolicy: {
        defaultCircuitIdleTimeout: '15m',
        defaultSessionIdleTimeout: 3_600_000,
        checkInterval: '500ms',
      },
    });
    const p = managerPolicies(m);
    assert.deepEqual(p.tcp, { defaultAccess: 'public', allowPublic: true, maxConnectionsPerCircuit: 8 });
    assert.equal(p.idlePolicy.defaultCircuitIdleTimeoutMs, 15 * 60_000);
    assert.equal(p.idlePolicy.defaultSessionIdleTimeoutMs, 3_600_000);
    assert.equal(p.idlePolicy.checkIntervalMs, 500);
  });

  test('inconsistent settings fail at start, naming the key', () => {
    const fails = (manager: Record<string, unknown>, field: RegExp) =>
      assert.throws(
        () => validateEmbeddedConfig({ manager }),
        (err: Error & { code?: string; detail?: { field: string }[] }) =>
          err.code === 'AP_ERR_CONFIG_INVALID' && err.detail!.some((d) => field.test(d.field)),
      );
    fails({ idlePolicy: { minTimeout: '10m', maxTimeout: '1m' } }, /^\/manager\/idlePolicy\/maxTimeout$/);
    fails({ idlePolicy: { allowNever: false } }, /^\/manager\/idlePolicy\/defaultCircuitIdleTimeout$/);
    fails({ idlePolicy: { defaultSessionIdleTimeout: 'soon' } }, /defaultSessionIdleTimeout/);
    fails({ idlePolicy: { defaultCircuitIdleTimeout: 0 } }, /defaultCircuitIdleTimeout/);
    fails({ idlePolicy: { checkInterval: 0 } }, /checkInterval/);
    fails({ tcp: { defaultAccess: 'public' } }, /^\/manager\/tcp\/defaultAccess$/);
    fails({ tcp: { allowEveryone: true } }, /allowEveryone/);
  });
});

describe('the activity endpoint explains each policy', () => {
  const base = {
    now: Date.parse('2030-01-01T10:00:00Z'),
    checkIntervalMs: 5000,
    circuit: {
      id: 'c1',
      state: 'ACTIVE' as const,
      idleSince: Date.parse('2030-01-01T09:50:00Z'),
      timeoutMs: 30 * 60_000,
      source: 'config' as const,
    },
    session: {
      state: 'RUNNING' as const,
      timeoutMs: 15 * 60_000,
      source: 'template' as const,
      liveCircuits: [{ id: 'c1', idleSince: Date.parse('2030-01-01T09:50:00Z') }],
    },
  };

  test('both apply: each with actsAt, and the earlier one first', () => {
    const { policy, policies } = explainPolicies(base);
    assert.deepEqual(
      policies.map((p) => [p.policy, p.source, p.actsAt]),
      [
        ['circuit-idle', 'config', '2030-01-01T10:20:00.000Z'],
        ['session-idle', 'template', '2030-01-01T10:05:00.000Z'],
      ],
    );
    assert.equal(policy?.policy, 'session-idle');
    assert.match(
      policies[0]!.explanation,
      /No byte moved since 2030-01-01T09:50:00.000Z; circuit idle timeout 30m \(from config\): closes the circuit at 2030-01-01T10:20:00.000Z/,
    );
    assert.match(
      policy!.explanation,
      /The only live circuit of the session idle since .*terminates the session at 2030-01-01T10:05:00.000Z/,
    );
  });

  test('none applies: policy null', () => {
    const r = explainPolicies({
      ...base,
      circuit: { ...base.circuit, timeoutMs: null },
      session: { ...base.session, timeoutMs: null },
    });
    assert.deepEqual(r, { policy: null, policies: [] });
  });

  test('due now, UNAVAILABLE, PENDING, closed circuits and sessions that are not RUNNING', () => {
    const due = explainPolicies({
      ...base,
      circuit: { ...base.circuit, timeoutMs: 60_000 },
      session: { ...base.session, timeoutMs: null },
    });
    assert.equal(due.policy?.actsAt, '2030-01-01T09:51:00.000Z');
    assert.match(due.policy!.explanation, /is due now; the leader acts within 5s/);
    for (const [state, why] of [
      ['UNAVAILABLE', /worker is not answering/],
      ['PENDING', /being opened/],
      ['CLOSED', /the circuit is CLOSED/],
    ] as const) {
      const r = explainPolicies({
        ...base,
        circuit: { ...base.circuit, state },
        session: { ...base.session, timeoutMs: null },
      });
      assert.equal(r.policy?.actsAt, null, state);
      assert.match(r.policy!.explanation, why);
    }
    const ended = explainPolicies({
      ...base,
      circuit: { ...base.circuit, timeoutMs: null },
      session: { ...base.session, state: 'TERMINATING', liveCircuits: [] },
    });
    assert.equal(ended.policy?.actsAt, null);
    assert.match(ended.policy!.explanation, /the session is TERMINATING/);
  });
});
