import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type CandidateSignals,
  type LlmCandidate,
  LlmPicker,
} from '../../../src/worker/upstream/llm-picker.ts';
import {
  BlockLru,
  blockHashes,
  PrefixCacheModel,
  PromptHasher,
} from '../../../src/worker/upstream/prefix-cache.ts';
import { promptOf } from '../../../src/worker/upstream/prompt.ts';

/** A seeded generator (mulberry32), so every run draws the same. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deterministic text of pseudo-random words. */
function words(chars: number, seed: number): string {
  const vocab = 'alpha beta gamma delta kappa lambda sigma omega river stone cloud light north'.split(' ');
  const r = rng(seed);
  let out = '';
  while (out.length < chars) out += `${vocab[Math.floor(r() * vocab.length)]} `;
  return out.slice(0, chars);
}

const chat = (system: string, user: string) => ({
  model: 'm',
  messages: [
    { role: 'system', content: system },
    { role: 'user', content: user },
  ],
});

type E = LlmCandidate & { name: string };

function routes(n: number, signals: Partial<CandidateSignals> | null = {}, at = 0): E[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `r${i}`,
    key: `10.0.0.${i}:8000`,
    weight: 1,
    inflight: 0,
    engine: signals === null ? null : { waiting: 0, running: 0, kvUsage: 0, at, ...signals },
  }));
}

/** The number of leading blocks of `chain` held, by looking at each one. */
function linearMatch(lru: BlockLru, chain: Uint32Array): number {
  let i = 0;
  while (i < chain.length && lru.has(chain[i]!)) i++;
  return i;
}

// ---------------------------------------------------------------------------------------------
// prompt.ts

test('promptOf: chat messages rendered as llm-sim renders them; text parts; tools first; tool calls', () => {
  assert.equal(
    promptOf(chat('Be brief.', 'Hi')),
    'system: Be brief.\nuser: Hi\n',
    'the simulator tokenizes role, colon, content, newline per message',
  );
  assert.equal(
    promptOf({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'look at ' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
            { type: 'text', text: 'this' },
          ],
        },
      ],
    }),
    'user: look at this\n',
  );
  const tools = [{ type: 'function', function: { name: 'f', parameters: {} } }];
  const call = [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }];
  const agent = promptOf({
    tools,
    messages: [
      { role: 'user', content: 'go' },
      { role: 'assistant', content: null, tool_calls: call },
      { role: 'tool', tool_call_id: 'c1', content: 'ok' },
    ],
  });
  assert.equal(
    agent,
    `tools: ${JSON.stringify(tools)}\nuser: go\nassistant: ${JSON.stringify(call)}\ntool: ok\n`,
  );
});

test('promptOf: text completions, and null when there is no prompt', () => {
  assert.equal(promptOf({ prompt: 'Once upon' }), 'Once upon');
  assert.equal(promptOf({ prompt: ['first', 'second'] }), 'first');
  for (const body of [
    null,
    'text',
    [],
    {},
    { input: 'embeddings' },
    { prompt: '' },
    { prompt: [1, 2, 3] },
    { messages: [] },
    { messages: 'nope' },
  ])
    assert.equal(promptOf(body), null, JSON.stringify(body));
  // Junk inside messages is skipped, not thrown on.
  assert.equal(promptOf({ messages: [null, 3, { role: 7, content: {} }, { role: 'user' }] }), ': \nuser: \n');
});

test('promptOf: a conversation that goes on extends the text of its earlier turns', () => {
  const turns = [
    { role: 'system', content: words(500, 1) },
    { role: 'user', content: 'first question' },
    { role: 'assistant', content: 'first answer' },
    { role: 'user', content: [{ type: 'text', text: 'second question' }] },
  ];
  for (let k = 1; k < turns.length; k++) {
    const shorter = promptOf({ messages: turns.slice(0, k) })!;
    const longer = promptOf({ messages: turns.slice(0, k + 1) })!;
    assert.ok(longer.startsWith(shorter), `turn ${k}`);
  }
});

test('promptKey = blockHashes(promptOf(body)), built from the pieces without concatenating them', () => {
  const bodies: unknown[] = [
    chat(words(3000, 2), words(900, 3)),
    chat('short', 'tiny'),
    { prompt: words(20_000, 4) },
    { prompt: [`${'é'.repeat(300)}🙂${words(700, 5)}`] },
    {
      tools: [{ type: 'function', function: { name: 'lookup' } }],
      messages: [
        { role: 'system', content: `漢字かな交じり文 ${words(400, 6)}` },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'a' },
            { type: 'text', text: words(2000, 7) },
          ],
        },
        { role: 'assistant', content: '', tool_calls: [{ id: 'x', function: { name: 'lookup' } }] },
      ],
    },
    {
      messages: Array.from({ length: 300 }, (_, i) => ({
        role: i % 2 ? 'assistant' : 'user',
        content: `m${i}`,
      })),
    },
  ];
  for (const blockChars of [64, 256]) {
    const picker = new LlmPicker('prefix', { blockChars });
    for (const body of bodies) {
      const expected = blockHashes(promptOf(body)!, blockChars, picker.maxBlocks);
      assert.deepEqual(
        picker.promptKey(body),
        expected,
        `${blockChars}: ${JSON.stringify(body).slice(0, 60)}`,
      );
    }
    assert.equal(picker.promptKey({ prompt: 'x'.repeat(blockChars - 1) })!.length, 0, 'no full block');
    assert.equal(picker.promptKey({ model: 'm' }), null);
  }
  // The hasher, piece by piece, is the same function — wherever the limit falls (inside a
  // multi-byte character included).
  const r = rng(77);
  const alphabet = ['a', 'b', ' ', '\n', 'é', '語', '🙂', '\ud800'];
  for (let trial = 0; trial < 2000; trial++) {
    const pieces: string[] = [];
    const count = 1 + Math.floor(r() * 8);
    for (let p = 0; p < count; p++) {
      let piece = '';
      const len = Math.floor(r() * (r() < 0.5 ? 8 : 60));
      for (let c = 0; c < len; c++) piece += alphabet[Math.floor(r() * alphabet.length)];
      pieces.push(piece);
    }
    const maxBlocks = 1 + Math.floor(r() * 6);
    const h = new PromptHasher(16, maxBlocks);
    h.begin();
    for (const piece of pieces) if (!h.add(piece)) break;
    assert.deepEqual(h.finish(), blockHashes(pieces.join(''), 16, maxBlocks), JSON.stringify(pieces));
  }
});

// ---------------------------------------------------------------------------------------------
// prefix-cache.ts: hashes

test('blockHashes: full blocks only, at most maxBlocks, deterministic', () => {
  assert.equal(blockHashes('').length, 0);
  assert.equal(blockHashes('x'.repeat(63)).length, 0);
  assert.equal(blockHashes('x'.repeat(64)).length, 1);
  assert.equal(blockHashes('x'.repeat(64 * 5 + 63)).length, 5, 'the partial tail block is not hashed');
  assert.equal(blockHashes(words(64 * 600, 1)).length, 512, 'default cap');
  assert.equal(blockHashes(words(64 * 600, 1), 64, 7).length, 7);
  const t = words(5000, 9);
  assert.deepEqual(blockHashes(t), blockHashes(t));
  // A concatenated (rope) string and a flat one hash alike.
  const rope = `${t.slice(0, 1000)}${t.slice(1000, 3333)}${t.slice(3333)}`;
  assert.deepEqual(blockHashes(rope), blockHashes(t));
  // Identical blocks at different depths get different hashes (the chain).
  const same = blockHashes('z'.repeat(64 * 4));
  assert.equal(new Set(same).size, 4);
});

test('blockHashes: a shared prefix gives shared leading hashes; a change in block k changes block k and every later one', () => {
  const base = words(64 * 20, 11);
  const hb = blockHashes(base);
  // Shared prefix, different continuations.
  const other = base.slice(0, 64 * 7 + 10) + words(64 * 13, 12);
  const ho = blockHashes(other);
  for (let i = 0; i < 7; i++) assert.equal(ho[i], hb[i], `block ${i} is shared`);
  for (let i = 7; i < 20; i++) assert.notEqual(ho[i], hb[i], `block ${i} diverged`);
  // One code unit changed anywhere (ASCII, Latin-1, CJK, a surrogate half): that block and all after.
  const r = rng(5);
  const replacements = ['Q', 'é', '語', '\ud83d', '\u0000', String.fromCharCode(0x8000 | 0x41)];
  for (let trial = 0; trial < 300; trial++) {
    const pos = Math.floor(r() * base.length);
    const c = replacements[trial % replacements.length]!;
    if (base[pos] === c) continue;
    const changed = base.slice(0, pos) + c + base.slice(pos + 1);
    const hc = blockHashes(changed);
    const k = Math.floor(pos / 64);
    for (let i = 0; i < k; i++) assert.equal(hc[i], hb[i], `pos ${pos}: block ${i} before the change`);
    for (let i = k; i < 20; i++) assert.notEqual(hc[i], hb[i], `pos ${pos}: block ${i} from the change on`);
  }
  // A prompt that is a prefix of another has a prefix of its hashes.
  assert.deepEqual(blockHashes(base.slice(0, 64 * 9)), hb.subarray(0, 9));
});

test('blockHashes: the block size is part of the hash and must be a multiple of 16', () => {
  const t = words(4096, 3);
  const a = blockHashes(t, 64);
  const b = blockHashes(t, 128);
  assert.equal(b.length, a.length / 2);
  assert.ok(!b.some((h) => a.includes(h)));
  assert.throws(() => blockHashes(t, 60), RangeError);
  assert.throws(() => blockHashes(t, 72), RangeError);
  assert.throws(() => blockHashes(t, 0), RangeError);
  assert.throws(() => new LlmPicker('llm', { blockChars: 100 }), RangeError);
});

test('blockHashes: distinct blocks do not collide in practice', () => {
  const seen = new Set<number>();
  for (let i = 0; i < 3000; i++) for (const h of blockHashes(`${i}:${words(128, i)}`, 64)) seen.add(h);
  assert.equal(seen.size, 6000);
});

// ---------------------------------------------------------------------------------------------
// prefix-cache.ts: the per-route model

test('BlockLru: the least recently used block goes first', () => {
  const lru = new BlockLru(4);
  for (const h of [1, 2, 3, 4]) lru.touch(h);
  lru.touch(1);
  lru.touch(5);
  assert.deepEqual(lru.hashes(), [5, 1, 4, 3], 'most recent first; 2 evicted');
  assert.equal(lru.size, 4);
  assert.equal(lru.evictions, 1);
  assert.ok(!lru.has(2));
  // has() is not a use: 3 is still the next to go.
  assert.ok(lru.has(3));
  lru.touch(6);
  assert.ok(!lru.has(3) && lru.has(4));
  // Hashes above 2^31 (Uint32Array values) are the same blocks as their int32 views.
  lru.touch(0xfffffff0);
  assert.ok(lru.has(0xfffffff0) && lru.has(0xfffffff0 | 0));
  // A chain: block 0 most recent, then the others in order, ahead of what was there.
  const chain = Uint32Array.from([10, 11, 12]);
  lru.insertChain(chain);
  assert.deepEqual(lru.hashes(), [10, 11, 12, 0xfffffff0]);
  // Sent again with a new tail: the shared run moves as one, the old tail goes first.
  lru.insertChain(Uint32Array.from([10, 11, 20]));
  assert.deepEqual(lru.hashes(), [10, 11, 20, 12]);
});

test('BlockLru: chains stay prefix-closed under eviction; matchLength = a linear scan, with or without hints', () => {
  const r = rng(42);
  // Chains sharing trunks (system prompts) with branches (questions, follow-ups).
  const trunks = Array.from({ length: 6 }, (_, i) => words(64 * (3 + i * 2), 100 + i));
  const chains: Uint32Array[] = [];
  for (let i = 0; i < 60; i++) {
    const trunk = trunks[i % trunks.length]!;
    chains.push(blockHashes(trunk + words(64 * Math.floor(r() * 12), 200 + i)));
  }
  for (const capacity of [7, 40, 100]) {
    const lru = new BlockLru(capacity);
    for (let step = 0; step < 800; step++) {
      lru.insertChain(chains[Math.floor(r() * chains.length)]!);
      assert.ok(lru.size <= capacity, 'over capacity');
      for (let q = 0; q < 4; q++) {
        const c = chains[Math.floor(r() * chains.length)]!;
        const expected = linearMatch(lru, c);
        // Prefix-closed: nothing held after the first block missing.
        for (let i = expected; i < c.length; i++) assert.ok(!lru.has(c[i]!), `cap ${capacity}: hole at ${i}`);
        assert.equal(lru.matchLength(c), expected);
        assert.equal(lru.matchLength(c, c.length, Math.floor(r() * (c.length + 2))), expected, 'hint');
        const n = Math.floor(r() * (c.length + 1));
        assert.equal(lru.matchLength(c, n), Math.min(n, expected), 'first n');
      }
    }
    // A chain just sent is held whole, up to the capacity.
    for (const c of chains.slice(0, 10)) {
      lru.insertChain(c);
      assert.equal(lru.matchLength(c), Math.min(c.length, capacity));
    }
  }
});

test('BlockLru: grows with use, setCapacity keeps the most recent, clear empties', () => {
  const lru = new BlockLru(4000);
  const small = lru.bytes;
  assert.ok(small <= 4096, `an empty route holds little (${small} bytes)`);
  for (let h = 1; h <= 5000; h++) lru.touch(h * 7919);
  assert.equal(lru.size, 4000);
  assert.equal(lru.evictions, 1000);
  assert.ok(lru.bytes > small);
  lru.setCapacity(1000);
  assert.equal(lru.size, 1000);
  assert.ok(lru.has(5000 * 7919) && lru.has(4001 * 7919), 'the most recent stay');
  assert.ok(!lru.has(4000 * 7919), 'the older go');
  for (let h = 1; h <= 3000; h++) lru.touch(h);
  assert.ok(lru.size <= 1000);
  lru.clear();
  assert.equal(lru.size, 0);
  assert.ok(!lru.has(3000));
  const none = new BlockLru(0);
  none.insertChain(blockHashes(words(640, 1)));
  assert.equal(none.size, 0);
});

test('PrefixCacheModel: routes appear when recorded, forget drops them', () => {
  const m = new PrefixCacheModel(64);
  const key = blockHashes(words(64 * 10, 1));
  assert.equal(m.matched('a', key), 0);
  m.record('a', key);
  m.record('b', key.subarray(0, 4));
  assert.equal(m.matched('a', key), 10);
  assert.equal(m.matched('b', key), 4);
  assert.equal(m.size, 2);
  const bytes = m.bytes;
  assert.ok(m.forget('a'));
  assert.equal(m.matched('a', key), 0);
  assert.equal(m.size, 1);
  assert.ok(m.bytes < bytes);
  m.record('b', key, key.length, 3);
  assert.equal(m.route('b')!.capacity, 3);
});

// ---------------------------------------------------------------------------------------------
// llm-picker.ts

test('prefix: a repeated system prompt goes to the same route', () => {
  const picker = new LlmPicker('prefix', { random: rng(1) });
  const es = routes(4);
  const systems = [words(4000, 1), words(6000, 2), words(3000, 3)];
  const where = new Map<number, Set<string>>();
  for (let i = 0; i < 90; i++) {
    const s = i % systems.length;
    const e = picker.pick(es, picker.promptKey(chat(systems[s]!, `question ${i}: ${words(800, 1000 + i)}`)))!;
    if (!where.has(s)) where.set(s, new Set());
    where.get(s)!.add(e.name);
  }
  for (const [s, names] of where) assert.equal(names.size, 1, `system prompt ${s} went to ${[...names]}`);
  assert.equal(picker.counts.prefix, 90);
});

test('prefix: with no match anywhere, the fewest in flight per unit of weight; exact ties spread', () => {
  const picker = new LlmPicker('prefix', { random: rng(2) });
  const es = routes(3);
  es[0]!.inflight = 2;
  es[1]!.inflight = 1;
  es[2]!.inflight = 1;
  es[2]!.weight = 2;
  assert.equal(picker.pick(es, null)!.name, 'r2', '1/2 in flight per weight');
  // A longer match beats load…
  const key = picker.promptKey(chat(words(3000, 5), 'q'))!;
  es[0]!.inflight = 0;
  picker.pick([es[1]!], key);
  assert.equal(picker.pick(es, key)!.name, 'r1', 'the route holding the prompt, though busier');
  // …and exact ties (an idle endpoint, new prompts) do not all go to the first route.
  const idle = routes(4);
  const seen = new Set<string>();
  for (let i = 0; i < 40; i++)
    seen.add(picker.pick(idle, picker.promptKey(chat(words(1000, 300 + i), 'q')))!.name);
  assert.equal(seen.size, 4);
});

test('staged routes (weight 0) are never picked, by any policy or affinity; none eligible → null', () => {
  for (const mode of ['prefix', 'llm'] as const) {
    const picker = new LlmPicker(mode, { random: rng(3), now: () => 0 });
    const es = routes(3);
    const key = picker.promptKey(chat(words(5000, 1), 'q'))!;
    assert.equal(picker.pick([es[0]!], key)!.name, 'r0');
    es[0]!.weight = 0; // holds the prompt, but staged
    es[1]!.inflight = 9;
    for (let i = 0; i < 50; i++) {
      assert.notEqual(picker.pick(es, key)?.name, 'r0');
      assert.notEqual(picker.pick(es, null)?.name, 'r0');
      assert.notEqual(picker.pick(es, key, `session-${i}`)?.name, 'r0');
    }
    for (const e of es) e.weight = 0;
    assert.equal(picker.pick(es, key), null);
    assert.equal(picker.pick(es, key, 'session'), null);
    assert.equal(picker.pick([], null), null);
  }
});

test('llm: the route holding the prompt wins while its load is close to the others', () => {
  const picker = new LlmPicker('llm', { random: rng(4), now: () => 0 });
  const es = routes(4);
  const system = words(6000, 7);
  picker.pick([es[2]!], picker.promptKey(chat(system, 'warm')));
  picker.counts.scored = 0;
  for (let i = 0; i < 20; i++) {
    es[2]!.inflight = i % 3; // within 2 requests of the idle routes
    const key = picker.promptKey(chat(system, `q${i} ${words(200, i)}`));
    assert.equal(picker.pick(es, key)!.name, 'r2');
  }
  assert.equal(picker.counts.scored, 20);
});

test('llm: spreads when the affine route is overloaded — by the score, and by the guard', () => {
  const picker = new LlmPicker('llm', { random: rng(5), now: () => 0 });
  const es = routes(3);
  const body = chat(words(8000, 8), 'same question');
  const key = picker.promptKey(body)!;
  picker.pick([es[0]!], key);
  picker.counts.scored = 0;
  // Whole prompt held (bonus 4 queued requests), but 10 in flight: the idle routes cost less.
  es[0]!.inflight = 10;
  assert.notEqual(picker.pick(es, key)!.name, 'r0');
  assert.equal(picker.counts.scored, 1);
  // The others are KV-saturated (penalty 4): the score would keep r0 (6 − 4 < 0 + 4), but r0 is
  // 6 above the least loaded (> 4): the guard spreads anyway. (The route picked above now holds
  // the prompt too: forget it.)
  for (const e of es.slice(1)) picker.forget(e.key);
  es[0]!.inflight = 6;
  es[1]!.inflight = 0;
  es[2]!.inflight = 0;
  es[1]!.engine!.kvUsage = 1;
  es[2]!.engine!.kvUsage = 1;
  const spread = picker.pick(es, key)!;
  assert.notEqual(spread.name, 'r0');
  assert.equal(picker.counts.spread, 1);
  // Less load above the others than the prefix is worth: it stays (the route spread to forgotten).
  picker.forget(spread.key);
  es[0]!.inflight = 3;
  for (const e of es) e.engine!.kvUsage = 0;
  assert.equal(picker.pick(es, picker.promptKey(chat(words(8000, 8), 'other')))!.name, 'r0');
});

test('llm: a route paced slower keeps what it serves about as fast as the others, and no more', () => {
  let now = 0;
  const picker = new LlmPicker('llm', { random: rng(9), now: () => now });
  const es = routes(3);
  const key = picker.promptKey(chat(words(8000, 11), 'question'))!;
  picker.pick([es[0]!], key); // r0 holds the prompt
  const pace = (e: E, ms: number, times = 5) => {
    for (let i = 0; i < times; i++) picker.observePace(e.key, ms);
  };
  pace(es[1]!, 10);
  pace(es[2]!, 10);
  pace(es[0]!, 30, 4);
  assert.equal(picker.pace(es[0]!.key), null, 'four streams are not a pace yet');
  // Not paced yet: r0 with 2 in flight still wins on its cache (2 − 4 < 0).
  es[0]!.inflight = 2;
  assert.equal(picker.pick(es, key)!.name, 'r0');
  for (const e of es.slice(1)) {
    picker.forget(e.key);
    pace(e, 10);
  }
  pace(es[0]!, 30, 1);
  assert.equal(picker.pace(es[0]!.key), 30);
  // 3× slower: idle, its cache hit still beats a long prefill elsewhere…
  es[0]!.inflight = 0;
  assert.equal(picker.pick(es, key)!.name, 'r0');
  assert.equal(picker.counts.paced, 1);
  // …but one request ahead there (3 × 2 − 5 = 1) costs more than a miss on an idle fast route.
  es[0]!.inflight = 1;
  const elsewhere = picker.pick(es, key)!;
  assert.notEqual(elsewhere.name, 'r0');
  picker.forget(elsewhere.key);
  pace(elsewhere, 10);
  // Within the tolerance (1.2×) a route counts as fast: 3 in flight and its cache win again.
  for (let i = 0; i < 60; i++) picker.observePace(es[0]!.key, 11);
  es[0]!.inflight = 3;
  assert.equal(picker.pick(es, key)!.name, 'r0');
  // A pace not refreshed for paceTtlMs is forgotten.
  for (let i = 0; i < 60; i++) picker.observePace(es[0]!.key, 40);
  es[0]!.inflight = 1;
  assert.notEqual(picker.pick(es, key)!.name, 'r0');
  for (const e of es.slice(1)) picker.forget(e.key);
  now += 30_001;
  assert.equal(picker.pace(es[0]!.key), null);
  assert.equal(picker.pick(es, key)!.name, 'r0');
});

test("llm: the engines' own pace, live, when every route's page reports one; else the streams seen", () => {
  const picker = new LlmPicker('llm', { random: rng(12), now: () => 0 });
  const es = routes(2);
  const key = picker.promptKey(chat(words(8000, 13), 'question'))!;
  picker.pick([es[0]!], key); // r0 holds the prompt
  es[0]!.inflight = 1;
  es[0]!.engine!.running = 1;
  // Both engines report their pace: r0 takes 3× longer per token, so one request there (3·(1 + ¼)
  // − 5 < 0) still wins; with 3 (3·(1 + ¾) − 5 > 0) a miss on idle r1 is cheaper.
  es[0]!.engine!.msPerToken = 30;
  es[1]!.engine!.msPerToken = 10;
  assert.equal(picker.pick(es, key)!.name, 'r0');
  es[0]!.engine!.running = 3;
  es[0]!.inflight = 3;
  const r = picker.pick(es, key)!;
  assert.equal(r.name, 'r1');
  picker.forget(r.key);
  assert.equal(picker.counts.paced, 2);
  // One page without a pace: the engines' paces are not used (and no stream was seen): r0 again.
  es[1]!.engine!.msPerToken = null;
  assert.equal(picker.pick(es, key)!.name, 'r0');
  assert.equal(picker.counts.paced, 2);
});

test('llm: with one route slow, the least-loaded fallback weighs its pace too', () => {
  const picker = new LlmPicker('llm', { random: rng(10), now: () => 0 });
  const es = routes(2);
  for (let i = 0; i < 5; i++) {
    picker.observePace(es[0]!.key, 40);
    picker.observePace(es[1]!.key, 10);
  }
  // No prompt: least loaded; r1 has 2 in flight, r0 none, but r0's one step costs 4 of r1's.
  es[1]!.inflight = 2;
  const short = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
  assert.equal(picker.pick(es, picker.promptKey(short))!.name, 'r1');
  es[1]!.inflight = 4;
  assert.equal(picker.pick(es, picker.promptKey(short))!.name, 'r0');
});

test('llm: the engine queue and KV pressure count; no pick lands more than the threshold above the least loaded', () => {
  const picker = new LlmPicker('llm', { random: rng(6), now: () => 0 });
  const es = routes(2);
  const system = words(4000, 9);
  let q = 0;
  const key = () => picker.promptKey(chat(system, words(4000, ++q)))!;
  picker.pick([es[0]!], key());
  // Half the prompt held (bonus 2); r0's engine has 3 waiting from elsewhere: 3 − 2 > 0.
  es[0]!.engine!.waiting = 3;
  assert.equal(picker.pick(es, key())!.name, 'r1');
  es[0]!.engine!.waiting = 0;
  // A nearly full KV cache (penalty 3.8) outweighs a half-prompt hit.
  es[0]!.engine!.kvUsage = 0.99;
  assert.equal(picker.pick(es, key())!.name, 'r1');
  // Random states: the guard's invariant.
  const r = rng(7);
  const many = routes(8);
  const systems = Array.from({ length: 5 }, (_, i) => words(3000 + i * 1000, 50 + i));
  for (let i = 0; i < 2000; i++) {
    for (const e of many) {
      e.inflight = Math.floor(r() * 10);
      e.engine!.waiting = r() < 0.3 ? Math.floor(r() * 6) : 0;
      e.engine!.running = Math.floor(r() * 12);
      e.engine!.kvUsage = r();
      e.weight = r() < 0.2 ? 2 : 1;
    }
    // Load: the engine's queue, what it has not seen yet of ours, a quarter of its batch.
    const loads = many.map((e) => {
      const { waiting, running } = e.engine!;
      return (waiting + Math.max(0, e.inflight - running - waiting) + running / 4) / e.weight;
    });
    const e = picker.pick(many, picker.promptKey(chat(systems[i % 5]!, `q${i}`)))!;
    const min = Math.min(...loads);
    assert.ok(loads[many.indexOf(e)]! - min <= 4 + min / 2 + 1e-9, `pick ${i}`);
  }
});

test('llm: a hot prefix replicates over routes instead of piling on one', () => {
  const picker = new LlmPicker('llm', { random: rng(8), now: () => 0 });
  const es = routes(4);
  const hot = words(8000, 10);
  // Requests never complete: in-flight counts only grow.
  for (let i = 0; i < 60; i++) {
    const e = picker.pick(es, picker.promptKey(chat(hot, `question ${i} ${words(2000, 500 + i)}`)))!;
    e.inflight++;
  }
  const counts = es.map((e) => e.inflight);
  assert.ok(Math.max(...counts) - Math.min(...counts) <= 5, String(counts));
  for (const e of es) assert.ok(picker.routeModel(e.key)!.size > 0, `${e.name} holds the hot prefix`);
});

test('llm: stale or missing engine signals are ignored: the prefix and in-flight counts decide', () => {
  let clock = 100_000;
  const picker = new LlmPicker('llm', { random: rng(9), now: () => clock, staleMs: 5_000 });
  const es = routes(2, {}, clock);
  const body = chat(words(6000, 11), 'q');
  picker.pick([es[0]!], picker.promptKey(body));
  // Fresh: r0 holds the prompt, r1's engine reports a long queue → r0.
  es[1]!.engine!.waiting = 50;
  es[0]!.inflight = 1;
  assert.equal(picker.pick(es, picker.promptKey(body))!.name, 'r0');
  // 6 s later the readings are stale: r1's queue no longer counts, but the prefix does: one more
  // in flight on r0 is worth less than its cached prompt.
  clock += 6_000;
  es[1]!.engine!.waiting = 0;
  assert.equal(picker.pick(es, picker.promptKey(body))!.name, 'r0');
  assert.equal(picker.counts.noSignals, 1);
  // …while far more in flight on r0 than on r1 spreads (the guard, on in-flight counts).
  es[0]!.inflight = 6;
  assert.equal(picker.pick(es, picker.promptKey(body))!.name, 'r1');
  assert.equal(picker.counts.noSignals, 2);
  // One route without a reading at all: the same.
  es[0]!.engine!.at = clock;
  es[1]!.engine = null;
  assert.equal(picker.pick(es, picker.promptKey(body))!.name, 'r1');
  assert.equal(picker.counts.noSignals, 3);
  es[0]!.inflight = 1;
  // Fresh again (a reading from the scraper's clock): the score is back.
  es[1]!.engine = { waiting: 50, running: 0, kvUsage: 0, at: clock };
  assert.equal(picker.pick(es, picker.promptKey(body))!.name, 'r0');
});

test('llm: no prompt block → least loaded with the engine signals', () => {
  const picker = new LlmPicker('llm', { random: rng(10), now: () => 0 });
  const es = routes(3);
  es[0]!.engine!.waiting = 2;
  es[1]!.inflight = 1;
  es[2]!.engine!.kvUsage = 0.95;
  assert.equal(picker.pick(es, null)!.name, 'r1');
  assert.equal(picker.pick(es, picker.promptKey({ prompt: 'too short for a block' }))!.name, 'r1');
  assert.equal(picker.counts.noPrompt, 2);
  assert.equal(picker.modelStats.routes, 0, 'nothing to record');
});

test('the route model follows the engine cache size when reported', () => {
  const picker = new LlmPicker('llm', { now: () => 0 });
  const [e] = routes(1, { cacheTokens: 16 * 1024 });
  picker.pick([e!], picker.promptKey(chat(words(3000, 1), 'q')));
  // 16k tokens × 4 characters / 256-character blocks.
  assert.equal(picker.routeModel(e!.key)!.capacity, 256);
  e!.engine!.cacheTokens = 4096;
  picker.pick([e!], picker.promptKey(chat(words(3000, 1), 'q')));
  assert.equal(picker.routeModel(e!.key)!.capacity, 64);
});

test('affinity: a value keeps its route whatever the load or prompt; stable when other routes come and go; follows weights', () => {
  const picker = new LlmPicker('llm', { now: () => 0 });
  const es = routes(5);
  const values = Array.from({ length: 3000 }, (_, i) => `user-${i}`);
  const before = new Map(values.map((v) => [v, picker.pick(es, null, v)!.name]));
  // Load and prompt do not matter.
  es[0]!.inflight = 100;
  const key = picker.promptKey(chat(words(3000, 1), 'q'));
  for (const v of values.slice(0, 200)) assert.equal(picker.pick(es, key, v)!.name, before.get(v));
  assert.equal(picker.counts.affinity, 3200);
  // A route leaves: only its values move.
  const without = es.filter((e) => e.name !== 'r2');
  for (const v of values) {
    const now = picker.pick(without, null, v)!.name;
    if (before.get(v) !== 'r2') assert.equal(now, before.get(v), v);
  }
  // A route joins: values move only to it, about a sixth of them.
  const joined = [...es, { ...routes(6)[5]!, name: 'r5' }];
  let moved = 0;
  for (const v of values) {
    const now = picker.pick(joined, null, v)!.name;
    if (now !== before.get(v)) {
      assert.equal(now, 'r5');
      moved++;
    }
  }
  assert.ok(moved > 3000 * 0.1 && moved < 3000 * 0.23, String(moved));
  // Staged and back: its values come back.
  es[1]!.weight = 0;
  for (const v of values) assert.notEqual(picker.pick(es, null, v)!.name, 'r1');
  es[1]!.weight = 1;
  for (const v of values) assert.equal(picker.pick(es, null, v)!.name, before.get(v));
  // Shares follow weights: 3 of 7.
  es[0]!.weight = 3;
  const share = values.filter((v) => picker.pick(es, null, v)!.name === 'r0').length / values.length;
  assert.ok(share > 0.37 && share < 0.49, String(share));
});

test('forget drops a route model; the prompt then goes by load', () => {
  const picker = new LlmPicker('prefix', { random: rng(11) });
  const es = routes(2);
  const key = picker.promptKey(chat(words(3000, 12), 'q'))!;
  picker.pick([es[0]!], key);
  es[0]!.inflight = 3;
  assert.equal(picker.pick(es, key)!.name, 'r0');
  picker.forget(es[0]!.key);
  assert.equal(picker.routeModel(es[0]!.key), undefined);
  assert.equal(picker.pick(es, key)!.name, 'r1');
  assert.equal(picker.modelStats.routes, 1);
});
