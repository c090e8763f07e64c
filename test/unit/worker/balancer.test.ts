import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Balanced, Balancer } from '../../../src/worker/upstream/balancer.ts';

type E = Balanced & { name: string };
const entries = (...w: [string, number][]): E[] =>
  w.map(([name, weight]) => ({ name, weight, inflight: 0, score: 0 }));

function counts(b: Balancer<E>, es: E[], n: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const e = b.pick(es);
    const k = e?.name ?? 'none';
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

test('weighted: shares follow the weights exactly and interleave; staged entries get nothing', () => {
  const es = entries(['a', 5], ['b', 1], ['c', 1], ['z', 0]);
  const b = new Balancer<E>('weighted');
  assert.deepEqual(counts(b, es, 700), { a: 500, b: 100, c: 100 });
  // Smooth: never more than the weight's share in a row.
  const seq = Array.from({ length: 7 }, () => b.pick(es)!.name).join('');
  assert.equal(seq.replaceAll('a', '').length, 2);
  assert.ok(!seq.includes('aaaaaa'), seq);
});

test('round-robin: every entry with a weight in turn', () => {
  const b = new Balancer<E>('round-robin');
  assert.deepEqual(counts(b, entries(['a', 1], ['b', 0], ['c', 50]), 10), { a: 5, c: 5 });
});

test('random: weighted draws', () => {
  let r = 0;
  const seq = [0.1, 0.6, 0.95];
  const b = new Balancer<E>('random', () => seq[r++ % seq.length]!);
  assert.deepEqual(counts(b, entries(['a', 50], ['b', 40], ['c', 10]), 3), { a: 1, b: 1, c: 1 });
});

test('least-inflight: of two draws, the one with fewer requests in flight per unit of weight', () => {
  const es = entries(['a', 1], ['b', 1]);
  es[0]!.inflight = 5;
  const b = new Balancer<E>('least-inflight');
  assert.deepEqual(counts(b, es, 50), { b: 50 });
  es[0]!.inflight = 0;
  es[1]!.inflight = 3;
  assert.deepEqual(counts(b, es, 50), { a: 50 });
  // A single eligible entry is picked whatever its load.
  assert.equal(b.pick(entries(['only', 1], ['staged', 0]))!.name, 'only');
});

test('no entry with a weight: nothing to pick, whatever the policy', () => {
  for (const p of ['weighted', 'round-robin', 'random', 'least-inflight'] as const)
    assert.equal(new Balancer<E>(p).pick(entries(['z', 0])), null, p);
});
