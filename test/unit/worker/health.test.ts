/**
 * The route health tracker on a mocked clock and timers with a scripted probe: the state machine
 * and its thresholds, probe timeouts and the one-probe-in-flight rule, passive ejection (doubling,
 * cap, success streak, largest ejected share), readmission, panic, staged targets, slow start, and
 * the `onChange` calls the request pipeline relies on.
 */
import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import type { EndpointHealthCheck, EndpointPassiveHealth } from '../../../src/contracts/endpoint.ts';
import { type HealthTarget, HealthTracker, type ProbeFn } from '../../../src/worker/upstream/health.ts';

const T0 = 1_000_000;

function check(o: Partial<EndpointHealthCheck> = {}): EndpointHealthCheck {
  return {
    path: '/health',
    expectedStatus: 200,
    intervalMs: 1_000,
    timeoutMs: 200,
    healthyThreshold: 2,
    unhealthyThreshold: 2,
    initialDelayMs: 0,
    ...o,
  };
}

function passive(o: Partial<EndpointPassiveHealth> = {}): EndpointPassiveHealth {
  return { consecutiveFailures: 3, baseEjectionMs: 1_000, maxEjectionMs: 5_000, maxEjectedPercent: 50, ...o };
}

function target(key: string, weight = 1): HealthTarget {
  return { key, host: '127.0.0.1', port: 1, route: `r-${key}`, weight };
}

/**
 * What each target's probe answers: a status, an error (rejects), `throw` (throws at once), `hang`
 * (rejects when aborted) or `deaf` (ignores its abort; settles on `release`).
 */
type Answer = number | Error | 'hang' | 'deaf' | 'throw';

class ScriptedProbe {
  readonly answers = new Map<string, Answer>();
  readonly calls: string[] = [];
  inflight = 0;
  readonly fn: ProbeFn = (t, _check, signal) => {
    this.calls.push(t.key);
    const a = this.answers.get(t.key) ?? 200;
    if (a === 'throw') throw new Error('boom');
    if (a === 'deaf') {
      // Ignores its abort signal: settles only when the test lets it.
      this.inflight++;
      return new Promise<number>((resolve) => {
        this.release = () => {
          this.inflight--;
          resolve(200);
        };
      });
    }
    if (a === 'hang')
      return new Promise<number>((_resolve, reject) =>
        signal.addEventListener('abort', () => reject(new Error('aborted'))),
      );
    return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
  };
  release: () => void = () => {};
  count(key: string): number {
    return this.calls.filter((k) => k === key).length;
  }
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

interface Rig {
  h: HealthTracker;
  probe: ScriptedProbe;
  changes: [string, boolean][];
  advance: (ms: number) => Promise<void>;
}

function rig(
  t: TestContext,
  opts: { check?: EndpointHealthCheck | null; passive?: EndpointPassiveHealth; slowStartMs?: number } = {},
): Rig {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 });
  const probe = new ScriptedProbe();
  const changes: [string, boolean][] = [];
  const h = new HealthTracker({
    check: opts.check === undefined ? check() : opts.check,
    passive: opts.passive ?? passive(),
    slowStartMs: opts.slowStartMs ?? 0,
    now: () => Date.now(),
    probe: probe.fn,
    onChange: (k, u) => changes.push([k, u]),
    random: () => 0.5,
  });
  t.after(() => h.close());
  // Small steps, with the probes' promise callbacks run between them (they schedule the next probe).
  const advance = async (ms: number): Promise<void> => {
    await flush();
    for (let left = ms; left > 0; left -= 10) {
      t.mock.timers.tick(Math.min(10, left));
      await flush();
    }
  };
  return { h, probe, changes, advance };
}

function stateOf(h: HealthTracker, key: string): string | undefined {
  return h.report().find((r) => r.key === key)?.state;
}

describe('active checks', () => {
  test('without active checks a new target is healthy and usable at once', (t) => {
    const { h, changes, probe } = rig(t, { check: null });
    assert.equal(h.ready, false);
    h.setTargets([target('a'), target('b')]);
    assert.deepEqual(changes, [
      ['a', true],
      ['b', true],
    ]);
    assert.equal(h.usable('a'), true);
    assert.equal(h.ready, true);
    assert.equal(h.panic, false);
    assert.equal(stateOf(h, 'a'), 'healthy');
    assert.equal(h.usable('unknown'), false);
    assert.equal(probe.calls.length, 0);
  });

  test('a new target is starting (not usable) until healthyThreshold probes pass; failures keep it starting', async (t) => {
    const { h, probe, changes, advance } = rig(t, { check: check({ healthyThreshold: 2 }) });
    probe.answers.set('a', Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }));
    h.setTargets([target('a')]);
    assert.equal(stateOf(h, 'a'), 'starting');
    assert.equal(h.usable('a'), false);
    assert.equal(h.ready, false);
    // Starting targets are probed every min(intervalMs, 500 ms), the first at once (jitter aside).
    await advance(30);
    assert.equal(probe.count('a'), 1);
    await advance(2_000);
    assert.equal(probe.count('a'), 5);
    // A warming replica refusing connections is neither unhealthy nor a reason to panic.
    assert.equal(stateOf(h, 'a'), 'starting');
    assert.equal(h.panic, false);
    assert.equal(h.report()[0]!.lastError, 'ECONNREFUSED');
    assert.deepEqual(changes, []);

    probe.answers.set('a', 200);
    await advance(500);
    assert.equal(stateOf(h, 'a'), 'starting', 'one success of two');
    await advance(500);
    assert.equal(stateOf(h, 'a'), 'healthy');
    assert.deepEqual(changes, [['a', true]]);
    assert.equal(h.ready, true);
    assert.equal(h.report()[0]!.lastError, null, 'cleared when it turned healthy');
    // Healthy: probed every intervalMs.
    const n = probe.count('a');
    await advance(2_000);
    assert.equal(probe.count('a') - n, 2);
  });

  test('the first probe waits initialDelayMs', async (t) => {
    const { h, probe, advance } = rig(t, { check: check({ initialDelayMs: 3_000 }) });
    h.setTargets([target('a')]);
    await advance(2_900);
    assert.equal(probe.count('a'), 0);
    assert.equal(stateOf(h, 'a'), 'starting');
    await advance(200);
    assert.equal(probe.count('a'), 1);
  });

  test('unhealthyThreshold failed probes make a target unhealthy, healthyThreshold good ones bring it back', async (t) => {
    const { h, probe, changes, advance } = rig(t, {
      check: check({ healthyThreshold: 1, unhealthyThreshold: 3 }),
    });
    h.setTargets([target('a'), target('b')]);
    await advance(100);
    assert.equal(stateOf(h, 'a'), 'healthy');
    changes.length = 0;

    probe.answers.set('a', 503);
    await advance(2_000);
    assert.equal(stateOf(h, 'a'), 'healthy', 'two failures of three');
    assert.equal(h.report()[0]!.consecutiveProbeFailures, 2);
    await advance(1_000);
    assert.equal(stateOf(h, 'a'), 'unhealthy');
    assert.equal(h.usable('a'), false);
    assert.equal(h.panic, false, 'b is healthy');
    assert.deepEqual(changes, [['a', false]]);
    const r = h.report()[0]!;
    assert.equal(r.lastError, 'status 503');
    assert.equal(r.route, 'r-a');
    assert.ok(r.lastProbeAt! > T0 && r.lastProbeAt! <= Date.now());

    probe.answers.set('a', 200);
    await advance(1_000);
    assert.equal(stateOf(h, 'a'), 'healthy');
    assert.deepEqual(changes, [
      ['a', false],
      ['a', true],
    ]);
  });

  test('a probe that does not answer within timeoutMs fails; never two probes of a target at once', async (t) => {
    const { h, probe, advance } = rig(t, {
      check: check({ healthyThreshold: 1, unhealthyThreshold: 1, timeoutMs: 300 }),
    });
    h.setTargets([target('a')]);
    await advance(100);
    assert.equal(stateOf(h, 'a'), 'healthy');

    probe.answers.set('a', 'hang');
    await advance(1_000);
    const n = probe.count('a');
    await advance(300);
    assert.equal(stateOf(h, 'a'), 'unhealthy');
    assert.equal(h.report()[0]!.lastError, 'timeout after 300 ms');
    assert.equal(probe.count('a'), n);

    // A probe that ignores its abort: the timeout still counts, and no other starts meanwhile.
    probe.answers.set('a', 'deaf');
    await advance(1_100);
    assert.equal(probe.inflight, 1);
    const m = probe.count('a');
    await advance(5_000);
    assert.equal(probe.count('a'), m, 'no second probe while the first is in flight');
    assert.equal(probe.inflight, 1);
    probe.answers.set('a', 200);
    probe.release();
    await advance(1_100);
    assert.ok(probe.count('a') > m);
    assert.equal(stateOf(h, 'a'), 'healthy');
  });

  test('a probe function that throws counts as a failed probe', async (t) => {
    const { h, probe, advance } = rig(t, { check: check({ healthyThreshold: 1 }) });
    probe.answers.set('a', 'throw');
    h.setTargets([target('a')]);
    await advance(100);
    assert.equal(probe.count('a'), 1);
    assert.equal(stateOf(h, 'a'), 'starting');
    assert.equal(h.report()[0]!.lastError, 'boom');
  });
});

describe('passive ejection', () => {
  test('consecutive failures eject; a success in between resets the count; the caller-supplied reason is kept', async (t) => {
    const { h, changes, advance } = rig(t, { check: null, passive: passive({ consecutiveFailures: 3 }) });
    h.setTargets([target('a'), target('b')]);
    changes.length = 0;
    h.onFailure('a', 'connect', 'ECONNREFUSED');
    h.onFailure('a', 'reset');
    h.onSuccess('a');
    h.onFailure('a', 'status', '503');
    h.onFailure('a', 'timeout');
    assert.equal(stateOf(h, 'a'), 'healthy');
    assert.equal(h.report()[0]!.consecutiveFailures, 2);
    h.onFailure('a', 'status', '502');
    assert.equal(stateOf(h, 'a'), 'ejected');
    assert.equal(h.usable('a'), false);
    assert.deepEqual(changes, [['a', false]]);
    const r = h.report()[0]!;
    assert.equal(r.ejections, 1);
    assert.equal(r.lastError, 'status: 502');
    assert.equal(r.ejectedUntil, Date.now() + 1_000);
    // Requests that were already on their way and fail now do not extend the ejection.
    h.onFailure('a', 'reset');
    assert.equal(h.report()[0]!.ejections, 1);
    // Without active checks it is readmitted when the time is up.
    await advance(1_000);
    assert.equal(stateOf(h, 'a'), 'healthy');
    assert.deepEqual(changes, [
      ['a', false],
      ['a', true],
    ]);
    assert.equal(h.report()[0]!.ejectedUntil, null);
  });

  test('ejections in a row double up to maxEjectionMs; a success streak resets the doubling', async (t) => {
    const p = passive({ consecutiveFailures: 2, baseEjectionMs: 1_000, maxEjectionMs: 5_000 });
    const { h, advance } = rig(t, { check: null, passive: p });
    h.setTargets([target('a'), target('b'), target('c')]);
    const ejectFor = async (): Promise<number> => {
      h.onFailure('a', 'connect');
      h.onFailure('a', 'connect');
      const r = h.report()[0]!;
      assert.equal(r.state, 'ejected');
      const ms = r.ejectedUntil! - Date.now();
      await advance(ms - 10);
      assert.equal(stateOf(h, 'a'), 'ejected', 'not before its time');
      await advance(10);
      assert.equal(stateOf(h, 'a'), 'healthy');
      return ms;
    };
    assert.deepEqual(
      [await ejectFor(), await ejectFor(), await ejectFor(), await ejectFor(), await ejectFor()],
      [1_000, 2_000, 4_000, 5_000, 5_000],
    );
    // One success is not a streak (consecutiveFailures = 2 of them are).
    h.onSuccess('a');
    assert.equal(await ejectFor(), 5_000);
    h.onSuccess('a');
    h.onSuccess('a');
    assert.equal(await ejectFor(), 1_000);
    assert.equal(h.report()[0]!.ejections, 7);
  });

  test('no ejection beyond maxEjectedPercent of the non-staged targets: the target stays in, still counted', async (t) => {
    const p = passive({ consecutiveFailures: 1, maxEjectedPercent: 50 });
    const { h, advance } = rig(t, { check: null, passive: p });
    h.setTargets([target('a'), target('b'), target('c'), target('d')]);
    h.onFailure('a', 'connect');
    h.onFailure('b', 'connect');
    assert.equal(stateOf(h, 'a'), 'ejected');
    assert.equal(stateOf(h, 'b'), 'ejected');
    // A third would be 75 %.
    h.onFailure('c', 'connect');
    h.onFailure('c', 'connect');
    assert.equal(stateOf(h, 'c'), 'healthy');
    assert.equal(h.usable('c'), true);
    assert.equal(h.report()[2]!.consecutiveFailures, 2);
    // Once one is back, c's next failure ejects it.
    await advance(1_000);
    assert.equal(stateOf(h, 'a'), 'healthy');
    h.onFailure('c', 'reset');
    assert.equal(stateOf(h, 'c'), 'ejected');
  });

  test('a single target is never ejected with a share below 100 %; with 100 % it is, and panic keeps it usable', (t) => {
    const { h, changes } = rig(t, { check: null, passive: passive({ consecutiveFailures: 1 }) });
    h.setTargets([target('a')]);
    h.onFailure('a', 'connect');
    assert.equal(stateOf(h, 'a'), 'healthy');
    h.setSettings(null, passive({ consecutiveFailures: 1, maxEjectedPercent: 100 }), 0);
    h.onFailure('a', 'connect');
    assert.equal(stateOf(h, 'a'), 'ejected');
    assert.equal(h.panic, true);
    assert.equal(h.usable('a'), true);
    assert.equal(h.ready, true);
    assert.deepEqual(changes, [['a', true]], 'usable throughout');
  });

  test('with active checks an ejected target is readmitted only after one more probe: success → healthy, failure → unhealthy', async (t) => {
    const { h, probe, changes, advance } = rig(t, {
      check: check({ healthyThreshold: 1, unhealthyThreshold: 3, intervalMs: 10_000 }),
      passive: passive({ consecutiveFailures: 1, baseEjectionMs: 1_000 }),
    });
    h.setTargets([target('a'), target('b')]);
    await advance(100);
    assert.equal(stateOf(h, 'a'), 'healthy');
    const n = probe.count('a');
    changes.length = 0;

    h.onFailure('a', 'connect');
    assert.equal(stateOf(h, 'a'), 'ejected');
    await advance(1_000);
    // The readmission probe ran right when the time was up (not at the 10 s interval).
    assert.equal(probe.count('a'), n + 1);
    assert.equal(stateOf(h, 'a'), 'healthy');

    probe.answers.set('a', 503);
    h.onFailure('a', 'connect');
    await advance(2_000);
    assert.equal(probe.count('a'), n + 2);
    // One failed probe is below unhealthyThreshold, but an ejected target gets no benefit of the doubt.
    assert.equal(stateOf(h, 'a'), 'unhealthy');
    assert.deepEqual(changes, [
      ['a', false],
      ['a', true],
      ['a', false],
    ]);
    probe.answers.set('a', 200);
    await advance(10_000);
    assert.equal(stateOf(h, 'a'), 'healthy');
  });

  test('failures count only on healthy, non-staged targets', async (t) => {
    const { h, probe, advance } = rig(t, {
      check: check({ healthyThreshold: 1, unhealthyThreshold: 1 }),
      passive: passive({ consecutiveFailures: 1, maxEjectedPercent: 100 }),
    });
    probe.answers.set('s', 503);
    h.setTargets([target('a'), target('u'), target('s'), target('z', 0)]);
    await advance(100);
    probe.answers.set('u', 503);
    await advance(1_000);
    assert.equal(stateOf(h, 'u'), 'unhealthy');
    for (const k of ['u', 's', 'z']) h.onFailure(k, 'connect');
    assert.equal(stateOf(h, 'u'), 'unhealthy');
    assert.equal(stateOf(h, 's'), 'starting');
    assert.equal(stateOf(h, 'z'), 'healthy');
    assert.equal(
      h.report().reduce((n, r) => n + r.ejections, 0),
      0,
    );
  });
});

describe('panic', () => {
  test('no healthy target but some unhealthy: every non-starting one is usable; it ends when one is healthy again', async (t) => {
    const { h, probe, changes, advance } = rig(t, {
      check: check({ healthyThreshold: 1, unhealthyThreshold: 1 }),
    });
    h.setTargets([target('a'), target('b')]);
    await advance(100);
    changes.length = 0;

    probe.answers.set('a', 503);
    await advance(1_000);
    assert.deepEqual(changes, [['a', false]]);
    assert.equal(h.panic, false);
    probe.answers.set('b', 503);
    await advance(1_000);
    assert.equal(stateOf(h, 'a'), 'unhealthy');
    assert.equal(stateOf(h, 'b'), 'unhealthy');
    assert.equal(h.panic, true);
    assert.equal(h.ready, true);
    assert.equal(h.usable('a'), true);
    assert.equal(h.usable('b'), true);
    // a came back into use with panic; b never left it.
    assert.deepEqual(changes, [
      ['a', false],
      ['a', true],
    ]);

    // A starting target stays out even in panic.
    probe.answers.set('c', 503);
    h.setTargets([target('a'), target('b'), target('c')]);
    assert.equal(stateOf(h, 'c'), 'starting');
    assert.equal(h.usable('c'), false);

    probe.answers.set('a', 200);
    await advance(1_000);
    assert.equal(h.panic, false);
    assert.equal(h.usable('a'), true);
    assert.equal(h.usable('b'), false);
    assert.deepEqual(changes.slice(2), [['b', false]]);
  });

  test('only starting targets: no panic, not ready (requests wait)', (t) => {
    const { h } = rig(t);
    h.setTargets([target('a'), target('b')]);
    assert.equal(h.panic, false);
    assert.equal(h.ready, false);
  });

  test('staged targets take no part: a healthy staged one neither prevents panic nor makes the endpoint ready', async (t) => {
    const { h, probe, advance } = rig(t, { check: check({ healthyThreshold: 1, unhealthyThreshold: 1 }) });
    probe.answers.set('a', 503);
    h.setTargets([target('a'), target('z', 0)]);
    await advance(100);
    assert.equal(stateOf(h, 'z'), 'healthy');
    assert.equal(h.usable('z'), true, 'a staged target is usable when healthy (for a promotion)');
    assert.equal(h.ready, false, 'only the staged target is usable');
    assert.equal(stateOf(h, 'a'), 'starting');

    // a turns healthy, then unhealthy: panic despite the healthy staged target.
    probe.answers.set('a', 200);
    await advance(500);
    assert.equal(stateOf(h, 'a'), 'healthy');
    probe.answers.set('a', 503);
    probe.answers.set('z', 503);
    await advance(1_000);
    assert.equal(stateOf(h, 'a'), 'unhealthy');
    assert.equal(stateOf(h, 'z'), 'unhealthy');
    assert.equal(h.panic, true);
    assert.equal(h.usable('a'), true);
    assert.equal(h.usable('z'), false, 'panic does not reach staged targets');
  });

  test('staged targets do not count in the ejected share', (t) => {
    const { h } = rig(t, {
      check: null,
      passive: passive({ consecutiveFailures: 1, maxEjectedPercent: 40 }),
    });
    h.setTargets([target('a'), target('b'), target('z', 0)]);
    // 1 of 2 non-staged targets is 50 % > 40 % (it would be 33 % if the staged one counted).
    h.onFailure('a', 'connect');
    assert.equal(stateOf(h, 'a'), 'healthy');
  });
});

describe('target set and settings', () => {
  test('setTargets keeps the state of kept targets, starts new ones, forgets removed ones', async (t) => {
    const { h, probe, changes, advance } = rig(t, {
      check: check({ healthyThreshold: 1 }),
      passive: passive({ consecutiveFailures: 1 }),
    });
    h.setTargets([target('a'), target('b'), target('c')]);
    await advance(100);
    h.onFailure('a', 'connect');
    assert.equal(stateOf(h, 'a'), 'ejected');
    changes.length = 0;

    h.setTargets([{ ...target('a'), weight: 5, route: 'r-a2' }, target('b'), target('d')]);
    const r = h.report();
    assert.deepEqual(
      r.map((x) => [x.key, x.state]),
      [
        ['a', 'ejected'],
        ['b', 'healthy'],
        ['d', 'starting'],
      ],
    );
    assert.equal(r[0]!.ejections, 1);
    assert.equal(r[0]!.route, 'r-a2');
    assert.deepEqual(changes, [], 'no call for the removed target nor for the starting one');
    const c = probe.count('c');
    await advance(3_000);
    assert.equal(probe.count('c'), c, 'a removed target is no longer probed');
    assert.equal(stateOf(h, 'd'), 'healthy');

    // The same key on another port is another replica: it starts afresh.
    h.setTargets([{ ...target('a'), port: 2 }, target('b'), target('d')]);
    assert.equal(stateOf(h, 'a'), 'starting');
    assert.equal(h.report()[0]!.ejections, 0);
  });

  test('turning active checks on keeps serving targets healthy; turning them off makes starting ones healthy', async (t) => {
    const { h, probe, changes, advance } = rig(t, { check: null });
    h.setTargets([target('a')]);
    changes.length = 0;
    h.setSettings(check({ healthyThreshold: 1, unhealthyThreshold: 1 }), passive(), 0);
    assert.equal(stateOf(h, 'a'), 'healthy');
    h.setTargets([target('a'), target('b')]);
    probe.answers.set('a', 503);
    probe.answers.set('b', 503);
    await advance(100);
    assert.ok(probe.count('a') >= 1);
    assert.equal(stateOf(h, 'a'), 'unhealthy');
    assert.equal(stateOf(h, 'b'), 'starting');
    assert.equal(h.panic, true);

    h.setSettings(null, passive(), 0);
    assert.equal(stateOf(h, 'a'), 'healthy');
    assert.equal(stateOf(h, 'b'), 'healthy');
    assert.equal(h.panic, false);
    // a stayed usable throughout (panic while unhealthy); b entered service.
    assert.deepEqual(changes, [['b', true]]);
    const n = probe.calls.length;
    await advance(3_000);
    assert.equal(probe.calls.length, n, 'no probes without active checks');
  });

  test('re-applying the same settings does not delay the probes', async (t) => {
    const { h, probe, advance } = rig(t, { check: check({ intervalMs: 1_000, healthyThreshold: 1 }) });
    h.setTargets([target('a')]);
    await advance(100);
    const n = probe.count('a');
    for (let i = 0; i < 10; i++) {
      h.setSettings(check({ intervalMs: 1_000, healthyThreshold: 1 }), passive(), 0);
      await advance(300);
    }
    assert.ok(probe.count('a') - n >= 2, `${probe.count('a') - n} probes in 3 s`);
  });

  test('close stops every timer and probe', async (t) => {
    const { h, probe, changes, advance } = rig(t, {
      check: check({ healthyThreshold: 1 }),
      passive: passive({ consecutiveFailures: 1 }),
    });
    h.setTargets([target('a'), target('b')]);
    await advance(100);
    h.onFailure('a', 'connect');
    probe.answers.set('b', 'hang');
    await advance(1_000);
    changes.length = 0;
    const n = probe.calls.length;
    h.close();
    await advance(10_000);
    assert.equal(probe.calls.length, n);
    assert.deepEqual(changes, []);
    assert.equal(h.report().length, 2, 'the last state stays readable');
  });
});

describe('onChange', () => {
  test('a throwing callback breaks nothing; a callback may call back into the tracker', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 });
    const seen: [string, boolean][] = [];
    const h: HealthTracker = new HealthTracker({
      check: null,
      passive: passive({ consecutiveFailures: 1, maxEjectedPercent: 100 }),
      slowStartMs: 0,
      onChange: (k, u) => {
        seen.push([k, u]);
        if (k === 'a' && !u) h.onFailure('b', 'connect');
        if (k === 'c') throw new Error('callback bug');
      },
    });
    t.after(() => h.close());
    h.setTargets([target('a'), target('b'), target('c')]);
    assert.equal(h.usable('c'), true);
    seen.length = 0;
    h.onFailure('a', 'connect');
    // a's removal led (inside the callback) to b's; both reported once, in order.
    assert.deepEqual(seen, [
      ['a', false],
      ['b', false],
    ]);
    assert.equal(stateOf(h, 'b'), 'ejected');
  });
});

describe('slow start', () => {
  test('the weight factor ramps linearly from 0.1 to 1 over slowStartMs from the first time in rotation', async (t) => {
    const { h, probe, advance } = rig(t, { check: check({ healthyThreshold: 1 }), slowStartMs: 10_000 });
    probe.answers.set('a', 503);
    h.setTargets([target('a'), target('z', 0)]);
    assert.equal(h.weightFactor('a'), 0.1, 'not yet usable');
    assert.equal(h.weightFactor('unknown'), 1);
    await advance(2_000);
    assert.equal(h.weightFactor('a'), 0.1, 'still starting');
    probe.answers.set('a', 200);
    await advance(500);
    assert.equal(stateOf(h, 'a'), 'healthy');
    // The ramp starts when the passing probe ended.
    const start = h.report()[0]!.lastProbeAt!;
    const factorAt = async (ms: number): Promise<number> => {
      await advance(start + ms - Date.now());
      return Math.round(h.weightFactor('a') * 1_000) / 1_000;
    };
    const f0 = h.weightFactor('a');
    assert.ok(f0 >= 0.1 && f0 < 0.2, String(f0));
    assert.equal(await factorAt(5_000), 0.55);
    assert.ok((await factorAt(9_000)) < 1);
    assert.equal(await factorAt(10_500), 1);

    // A staged target, healthy for long, ramps only from its promotion.
    assert.equal(stateOf(h, 'z'), 'healthy');
    assert.equal(h.weightFactor('z'), 0.1);
    h.setTargets([target('a'), target('z', 1)]);
    assert.equal(h.weightFactor('z'), 0.1);
    await advance(10_000);
    assert.equal(h.weightFactor('z'), 1);

    h.setSettings(check({ healthyThreshold: 1 }), passive(), 0);
    assert.equal(h.weightFactor('a'), 1, 'slowStartMs 0: no ramp');
  });
});
