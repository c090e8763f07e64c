import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { EmbeddedCounterStore } from '../../../../src/stores/embedded/counters.ts';
import type { CounterStore } from '../../../../src/stores/types.ts';
import { KeyLimiter, limitKeys, type Reservation } from '../../../../src/worker/inference/limits.ts';

const WINDOW = 60_000;

/** A store and a limiter on one fake clock, starting 10 s into window 1000. */
function setup(opts: { onError?: (e: unknown) => void } = {}) {
  const clock = { t: 1000 * WINDOW + 10_000 };
  const now = () => clock.t;
  const store = new EmbeddedCounterStore({ now, sweepIntervalMs: 3_600_000 });
  const limiter = new KeyLimiter(store, { now, ...opts });
  stores.push(store);
  const count = async (kind: 'rpm' | 'tpm', window = 1000) =>
    Number((await store.get(limitKeys[kind]('k', window))) ?? 0);
  return { clock, store, limiter, count };
}

const stores: CounterStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

function ok(a: Awaited<ReturnType<KeyLimiter['admit']>>): Reservation {
  assert.equal(a.ok, true, JSON.stringify(a));
  return (a as { reservation: Reservation }).reservation;
}

/** Lets fire-and-forget writes land. */
const settled = () => new Promise((r) => setImmediate(r));

describe('KeyLimiter', () => {
  test('key names', () => {
    assert.equal(limitKeys.rpm('key-1', 29_000_000), 'ap:lim:key-1:rpm:29000000');
    assert.equal(limitKeys.tpm('key-1', 7), 'ap:lim:key-1:tpm:7');
  });

  test('no limits: admitted without touching the store', async () => {
    const { limiter, store } = setup();
    const r = ok(await limiter.admit('k', { rpm: null, tpm: null }, 500));
    limiter.settle(r, 900);
    await settled();
    assert.deepEqual(await store.keys('ap:lim:'), []);
  });

  test('rpm: the request over the limit is refused until the next window, and not counted', async () => {
    const { limiter, clock, count } = setup();
    for (let i = 0; i < 3; i++) ok(await limiter.admit('k', { rpm: 3, tpm: null }, 10));
    const no = await limiter.admit('k', { rpm: 3, tpm: null }, 10);
    assert.deepEqual(no, { ok: false, retryAfterMs: 50_000, which: 'rpm' });
    await settled();
    assert.equal(await count('rpm'), 3);
    assert.equal(await count('tpm'), 0); // no TPM limit: no TPM counter
    clock.t += 50_000;
    ok(await limiter.admit('k', { rpm: 3, tpm: null }, 10));
    assert.equal(await count('rpm', 1001), 1);
  });

  test('tpm: reservations fill the window; a refusal gives its reservation back; settle frees room', async () => {
    const { limiter, count } = setup();
    const lim = { rpm: null, tpm: 1000 };
    const a = ok(await limiter.admit('k', lim, 400));
    ok(await limiter.admit('k', lim, 400));
    const no = await limiter.admit('k', lim, 400);
    assert.equal(no.ok, false);
    assert.equal(!no.ok && no.which, 'tpm');
    await settled();
    assert.equal(await count('tpm'), 800);
    limiter.settle(a, 100); // used 100 of its 400
    await settled();
    assert.equal(await count('tpm'), 500);
    ok(await limiter.admit('k', lim, 400));
    assert.equal(await count('tpm'), 900);
    // Exactly at the limit is admitted; one more token is not.
    ok(await limiter.admit('k', lim, 100));
    assert.equal((await limiter.admit('k', lim, 1)).ok, false);
  });

  test('a refusal by tpm gives the request back to rpm, and the other way round', async () => {
    const { limiter, count } = setup();
    ok(await limiter.admit('k', { rpm: 10, tpm: 100 }, 100));
    assert.equal((await limiter.admit('k', { rpm: 10, tpm: 100 }, 1)).ok, false);
    await settled();
    assert.equal(await count('rpm'), 1);
    const r = setup();
    ok(await r.limiter.admit('k', { rpm: 1, tpm: 100 }, 10));
    const no = await r.limiter.admit('k', { rpm: 1, tpm: 100 }, 10);
    assert.equal(!no.ok && no.which, 'rpm');
    await settled();
    assert.equal(await r.count('tpm'), 10);
  });

  test('a reservation above the whole limit fits only an empty window', async () => {
    const { limiter, clock, count } = setup();
    const big = ok(await limiter.admit('k', { rpm: null, tpm: 1000 }, 5000));
    assert.equal(big.tokens, 1000);
    assert.equal(await count('tpm'), 1000);
    limiter.settle(big, 300);
    await settled();
    ok(await limiter.admit('k', { rpm: null, tpm: 1000 }, 10));
    assert.equal((await limiter.admit('k', { rpm: null, tpm: 1000 }, 5000)).ok, false);
    clock.t += WINDOW;
    ok(await limiter.admit('k', { rpm: null, tpm: 1000 }, 5000));
  });

  test('limit 0 refuses everything; fractional reservations round up', async () => {
    const { limiter, count } = setup();
    assert.equal((await limiter.admit('k', { rpm: 0, tpm: null }, 1)).ok, false);
    const r = ok(await limiter.admit('k', { rpm: null, tpm: 10 }, 2.2));
    assert.equal(r.tokens, 3);
    assert.equal(await count('tpm'), 3);
  });

  test('settle in a later window: unused room is not given back; an excess is charged to the current window', async () => {
    const { limiter, clock, count } = setup();
    const lim = { rpm: null, tpm: 1000 };
    const under = ok(await limiter.admit('k', lim, 300));
    const over = ok(await limiter.admit('k', lim, 300));
    clock.t += WINDOW;
    limiter.settle(under, 100);
    limiter.settle(over, 700);
    await settled();
    assert.equal(await count('tpm', 1000), 600);
    assert.equal(await count('tpm', 1001), 400);
  });

  test('settle and release count once per reservation; release gives back request and tokens', async () => {
    const { limiter, count } = setup();
    const lim = { rpm: 5, tpm: 1000 };
    const a = ok(await limiter.admit('k', lim, 300));
    const b = ok(await limiter.admit('k', lim, 300));
    limiter.settle(a, 100);
    limiter.settle(a, 100);
    limiter.release(a);
    limiter.release(b);
    limiter.release(b);
    limiter.settle(b, 1000);
    await settled();
    assert.equal(await count('tpm'), 100);
    assert.equal(await count('rpm'), 1);
  });

  test('counters expire a little after their window', async () => {
    const { limiter, clock, store } = setup();
    ok(await limiter.admit('k', { rpm: 5, tpm: 1000 }, 300));
    assert.equal((await store.keys('ap:lim:k:')).length, 2);
    clock.t += WINDOW;
    assert.equal((await store.keys('ap:lim:k:')).length, 2);
    clock.t += 30_000;
    assert.deepEqual(await store.keys('ap:lim:k:'), []);
  });

  test('a failing store: admit rejects (giving back what was counted); settle never throws', async () => {
    const errors: unknown[] = [];
    const { store, limiter, count } = setup({ onError: (e) => errors.push(e) });
    // TPM counter writes fail, RPM ones work.
    const incr = store.incr.bind(store);
    store.incr = async (key, by, ttl) => {
      if (key.includes(':tpm:')) throw new Error('store down');
      return incr(key, by, ttl);
    };
    await assert.rejects(limiter.admit('k', { rpm: 5, tpm: 1000 }, 300), /store down/);
    await settled();
    assert.equal(await count('rpm'), 0);
    store.incr = incr;
    const r = ok(await limiter.admit('k', { rpm: 5, tpm: 1000 }, 300));
    await store.close();
    assert.doesNotThrow(() => limiter.settle(r, 10));
    await settled();
    assert.equal(errors.length, 1);
  });

  test('many concurrent admissions on one window: exactly the limit is admitted', async () => {
    const { limiter, count } = setup();
    const results = await Promise.all(
      Array.from({ length: 300 }, () => limiter.admit('k', { rpm: 120, tpm: 5000 }, 50)),
    );
    const admitted = results.filter((r) => r.ok).length;
    assert.equal(admitted, 100); // 5000 / 50 tokens
    await settled();
    assert.equal(await count('tpm'), 5000);
    assert.equal(await count('rpm'), 100);
  });

  test('keys are independent', async () => {
    const { limiter } = setup();
    ok(await limiter.admit('a', { rpm: 1, tpm: null }, 0));
    ok(await limiter.admit('b', { rpm: 1, tpm: null }, 0));
    assert.equal((await limiter.admit('a', { rpm: 1, tpm: null }, 0)).ok, false);
  });
});
