import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { EmbeddedCounterStore } from '../../../../src/stores/embedded/counters.ts';
import type { CounterOp, CounterStore } from '../../../../src/stores/types.ts';
import { readUsage, UsageRecorder, usageKeys } from '../../../../src/worker/inference/usage.ts';
import { until } from '../../../support/poll.ts';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close().catch(() => {});
});

function store(): EmbeddedCounterStore {
  const s = new EmbeddedCounterStore();
  open.push(s);
  return s;
}

function recorder(
  counters: CounterStore,
  flushMs = 3_600_000,
  onError?: (e: unknown) => void,
): UsageRecorder {
  const r = new UsageRecorder(counters, { flushMs, ...(onError ? { onError } : {}) });
  open.push(r);
  return r;
}

const u = (p: number, c: number, cached = 0, estimated = false) => ({
  promptTokens: p,
  completionTokens: c,
  cachedTokens: cached,
  estimated,
});

describe('UsageRecorder', () => {
  test('key names', () => {
    assert.equal(usageKeys.field('ep', 'key1', 'prompt_tokens'), 'ap:usage:ep:key1:prompt_tokens');
    assert.equal(usageKeys.field('ep', null, 'requests'), 'ap:usage:ep:public:requests');
  });

  test('accumulates in memory and writes one batch per flush; nothing before it', async () => {
    const s = store();
    const batches: CounterOp[][] = [];
    const batch = s.batch.bind(s);
    s.batch = async (ops) => {
      batches.push(ops);
      return batch(ops);
    };
    const r = recorder(s);
    r.record('ep', 'k1', u(10, 5, 2));
    r.record('ep', 'k1', u(20, 7, 0, true));
    r.record('ep', null, u(3, 1));
    r.record('ep2', 'k9', u(1, 1), 4);
    assert.deepEqual(await s.keys('ap:usage:'), []);
    await r.flush();
    assert.equal(batches.length, 1);
    assert.ok(batches[0]!.every((op) => op.type === 'incr' && op.ttlMs === 35 * 24 * 3600 * 1000));
    assert.equal(await s.get('ap:usage:ep:k1:requests'), '2');
    assert.equal(await s.get('ap:usage:ep:k1:prompt_tokens'), '30');
    assert.equal(await s.get('ap:usage:ep:k1:completion_tokens'), '12');
    assert.equal(await s.get('ap:usage:ep:k1:cached_tokens'), '2');
    assert.equal(await s.get('ap:usage:ep:k1:estimated_requests'), '1');
    assert.equal(await s.get('ap:usage:ep2:k9:requests'), '4');
    // Zero amounts are not written.
    assert.equal(await s.get('ap:usage:ep:public:cached_tokens'), null);
    await r.flush(); // nothing new: no batch
    assert.equal(batches.length, 1);
  });

  test('flushes by itself every flushMs', async () => {
    const s = store();
    const r = recorder(s, 20);
    r.record('ep', 'k', u(1, 2));
    await until(async () => (await s.get('ap:usage:ep:k:completion_tokens')) === '2', 'the periodic flush', {
      timeoutMs: 2_000,
      intervalMs: 5,
    });
  });

  test('a failed flush keeps the amounts for the next one; periodic failures go to onError', async () => {
    const s = store();
    const errors: unknown[] = [];
    const batch = s.batch.bind(s);
    let down = true;
    s.batch = async (ops) => {
      if (down) throw new Error('store down');
      return batch(ops);
    };
    const r = recorder(s, 15, (e) => errors.push(e));
    r.record('ep', 'k', u(10, 1));
    await assert.rejects(r.flush(), /store down/);
    r.record('ep', 'k', u(5, 1));
    await until(() => errors.length >= 1, 'a periodic flush to fail', { timeoutMs: 2_000, intervalMs: 5 });
    down = false;
    await r.flush();
    assert.equal(await s.get('ap:usage:ep:k:prompt_tokens'), '15');
    assert.equal(await s.get('ap:usage:ep:k:requests'), '2');
  });

  test('bad numbers never poison a counter (INCRBY takes integers)', async () => {
    const s = store();
    const r = recorder(s);
    r.record('ep', 'k', u(Number.NaN, 2.6, -4));
    r.record('ep', 'k', u(Number.POSITIVE_INFINITY, 1));
    await r.flush();
    const t = await readUsage(s, 'ep');
    assert.deepEqual(t.total, {
      requests: 2,
      promptTokens: 0,
      completionTokens: 4,
      cachedTokens: 0,
      estimatedRequests: 0,
    });
  });

  test('close flushes what is left', async () => {
    const s = store();
    const r = new UsageRecorder(s);
    r.record('ep', 'k', u(1, 1));
    await r.close();
    assert.equal(await s.get('ap:usage:ep:k:requests'), '1');
  });

  test('flushes never overlap', async () => {
    const s = store();
    let inFlight = 0;
    let most = 0;
    const batch = s.batch.bind(s);
    let batches = 0;
    s.batch = async (ops) => {
      batches++;
      most = Math.max(most, ++inFlight);
      await new Promise((res) => setTimeout(res, 5));
      inFlight--;
      return batch(ops);
    };
    const r = recorder(s);
    const all: Promise<void>[] = [];
    for (let i = 0; i < 5; i++) {
      r.record('ep', 'k', u(1, 1));
      all.push(r.flush());
      await new Promise((res) => setImmediate(res));
    }
    await Promise.all(all);
    assert.equal(most, 1);
    assert.ok(batches > 1);
    assert.equal(await s.get('ap:usage:ep:k:requests'), '5');
  });
});

describe('readUsage', () => {
  test('totals per key and overall, as several workers wrote them', async () => {
    const s = store();
    const a = recorder(s);
    const b = recorder(s);
    a.record('ep', 'k2', u(10, 5, 4));
    b.record('ep', 'k2', u(1, 1, 0, true));
    a.record('ep', null, u(7, 3));
    b.record('ep', 'k1', u(2, 2));
    b.record('other', 'k1', u(1000, 1000));
    await Promise.all([a.flush(), b.flush()]);
    // A stray key under the prefix with an unknown field is ignored.
    await s.set('ap:usage:ep:k1:bogus', '5');
    const got = await readUsage(s, 'ep');
    assert.deepEqual(got, {
      total: { requests: 4, promptTokens: 20, completionTokens: 11, cachedTokens: 4, estimatedRequests: 1 },
      keys: [
        {
          keyId: null,
          totals: {
            requests: 1,
            promptTokens: 7,
            completionTokens: 3,
            cachedTokens: 0,
            estimatedRequests: 0,
          },
        },
        {
          keyId: 'k1',
          totals: {
            requests: 1,
            promptTokens: 2,
            completionTokens: 2,
            cachedTokens: 0,
            estimatedRequests: 0,
          },
        },
        {
          keyId: 'k2',
          totals: {
            requests: 2,
            promptTokens: 11,
            completionTokens: 6,
            cachedTokens: 4,
            estimatedRequests: 1,
          },
        },
      ],
    });
  });

  test('an endpoint without usage', async () => {
    const s = store();
    assert.deepEqual(await readUsage(s, 'none'), {
      total: { requests: 0, promptTokens: 0, completionTokens: 0, cachedTokens: 0, estimatedRequests: 0 },
      keys: [],
    });
  });
});
