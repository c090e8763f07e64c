/**
 * Per-key TPM across worker processes: independent `KeyLimiter`s (one per worker, each with its
 * own store client) share one counter store and admit many concurrent requests with random token
 * counts, more than the limit allows, over several windows (one second long here instead of one
 * minute, so the test takes seconds). Each request reserves prompt + max_tokens at admission and
 * settles with what it used (less than reserved) when it ends.
 *
 * Measured per full window: the tokens actually used by the requests admitted in it must be within
 * ±2 % of the limit, and the window's counter (what admission saw) never above it. Runs on the
 * embedded store as data-plane children reach it (through the IPC channel to the primary) and on
 * a real Redis with one connection per worker.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EmbeddedCounterStore } from '../../../src/stores/embedded/counters.ts';
import { openRedis } from '../../../src/stores/redis/counters.ts';
import type { CounterStore } from '../../../src/stores/types.ts';
import { KeyLimiter, limitKeys } from '../../../src/worker/inference/limits.ts';
import {
  type CounterCall,
  type CounterResult,
  IpcCounterStore,
  serveCounterCall,
} from '../../../src/worker/multiprocess/ipc-counters.ts';
import { useRealServer } from '../../support/infra/real.ts';
import { startRedis } from '../../support/infra/servers.ts';
import { until } from '../../support/poll.ts';

const WINDOW_MS = 1_000;
const TPM = 60_000;
/** Full windows measured (the partial first and last ones are not). */
const WINDOWS = 3;
const TOLERANCE = 0.02;

/** A data-plane child's store: every call crosses a (JSON-serializing) channel to the primary's store. */
class ChildStore extends IpcCounterStore {
  constructor(primary: CounterStore) {
    const wire = <T>(m: T): T => JSON.parse(JSON.stringify(m)) as T;
    super(
      (m: CounterCall) =>
        setImmediate(
          () =>
            void serveCounterCall(primary, wire(m), (r: CounterResult) =>
              setImmediate(() => this.settle(wire(r))),
            ),
        ),
      () => true,
    );
  }
}

let seed = 12345;
/** A small seeded generator: the same demand on every run. */
function rint(lo: number, hi: number): number {
  seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
  return lo + (seed % (hi - lo + 1));
}

interface Run {
  /** window → tokens used by the requests admitted in it. */
  used: Map<number, number>;
  /** window → the store's TPM counter at the end. */
  counter: Map<number, number>;
  measured: number[];
  admitted: number;
  refused: number;
  errors: unknown[];
}

/**
 * Each worker issues `perTick` requests every 2 ms (open loop: a refused request is dropped, as
 * a client getting 429 would go away); an admitted one reserves prompt + max_tokens (100–1000),
 * runs 20–250 ms (2–25 % of a window, as 1–15 s answers are of a minute) and uses its prompt plus
 * 30–100 % of max_tokens.
 */
async function drive(stores: CounterStore[], perTick: number): Promise<Run> {
  const key = `it-${randomBytes(4).toString('hex')}`;
  const errors: unknown[] = [];
  const limiters = stores.map(
    (s) => new KeyLimiter(s, { windowMs: WINDOW_MS, onError: (e) => errors.push(e) }),
  );
  const limits = { rpm: 1_000_000, tpm: TPM };
  const used = new Map<number, number>();
  let admitted = 0;
  let refused = 0;
  let inflight = 0;

  const one = async (l: KeyLimiter): Promise<void> => {
    const prompt = rint(50, 500);
    const max = rint(50, 500);
    inflight++;
    try {
      const a = await l.admit(key, limits, prompt + max);
      if (!a.ok) {
        refused++;
        return;
      }
      admitted++;
      const actual = prompt + rint(Math.ceil(max * 0.3), max);
      await sleep(rint(20, 250));
      l.settle(a.reservation, actual);
      used.set(a.reservation.window, (used.get(a.reservation.window) ?? 0) + actual);
    } catch (err) {
      errors.push(err);
    } finally {
      inflight--;
    }
  };

  const first = Math.floor(Date.now() / WINDOW_MS);
  const stopAt = (first + WINDOWS + 1) * WINDOW_MS;
  const timers = limiters.map((l) =>
    setInterval(() => {
      for (let i = 0; i < perTick; i++) void one(l);
    }, 2),
  );
  await sleep(stopAt - Date.now());
  for (const t of timers) clearInterval(t);
  await until(() => inflight === 0, 'requests in flight to end', { timeoutMs: 10_000, intervalMs: 10 });

  const measured = Array.from({ length: WINDOWS }, (_, i) => first + 1 + i);
  // Settles are fire-and-forget: wait until each counter stops moving.
  const counter = new Map<number, number>();
  for (const w of measured) {
    let last = -1;
    await until(
      async () => {
        const v = Number((await stores[0]!.get(limitKeys.tpm(key, w))) ?? 0);
        const same = v === last;
        last = v;
        return same;
      },
      'settles to land',
      { timeoutMs: 5_000, intervalMs: 30 },
    );
    counter.set(w, last);
  }
  return { used, counter, measured, admitted, refused, errors };
}

function check(t: TestContext, r: Run): void {
  assert.deepEqual(r.errors, []);
  assert.ok(
    r.refused > r.admitted,
    `demand must exceed the limit (admitted ${r.admitted}, refused ${r.refused})`,
  );
  for (const w of r.measured) {
    const used = r.used.get(w) ?? 0;
    const counter = r.counter.get(w)!;
    t.diagnostic(
      `window ${w}: used ${used} (${((used / TPM) * 100).toFixed(2)} % of ${TPM}), counter ${counter}`,
    );
    assert.ok(counter <= TPM, `window ${w}: counter ${counter} above the limit ${TPM}`);
    assert.ok(
      Math.abs(used - TPM) <= TPM * TOLERANCE,
      `window ${w}: ${used} tokens used, more than ${TOLERANCE * 100} % away from ${TPM}`,
    );
  }
  t.diagnostic(`admitted ${r.admitted}, refused ${r.refused}`);
}

describe('per-key TPM across workers sharing a counter store', () => {
  test('embedded store, two data-plane children over IPC: within ±2 % of the limit', async (t) => {
    const primary = new EmbeddedCounterStore();
    try {
      check(t, await drive([new ChildStore(primary), new ChildStore(primary)], 2));
    } finally {
      await primary.close();
    }
  });

  test('embedded store, three limiters on the primary store itself: within ±2 %', async (t) => {
    const primary = new EmbeddedCounterStore();
    try {
      check(t, await drive([primary, primary, primary], 1));
    } finally {
      await primary.close();
    }
  });
});

const redis = await useRealServer('Redis', () => startRedis());
if (redis) {
  test('Redis, two workers with a connection each: within ±2 % of the limit', async (t) => {
    const a = await openRedis({ url: redis.url });
    const b = await openRedis({ url: redis.url });
    try {
      check(t, await drive([a, b], 2));
    } finally {
      await a.close();
      await b.close();
    }
  });
}
