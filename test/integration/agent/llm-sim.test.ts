/**
 * llm-sim, the simulated OpenAI-compatible engine, as real processes on loopback: API shapes,
 * usage, streaming, metrics, batching limits, prefix caching, aborts, faults, warm-up, and the
 * built-in template through the real local agent.
 *
 * Timing claims are checked in engine steps and simulated milliseconds (/_sim/state), which are
 * deterministic, never in wall time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { builtinTemplates, type TemplateSpec } from '../../../src/agent/templates.ts';
import { metricValue, type Sim, sseReader, startSim } from '../../support/llm-sim.ts';
import { until } from '../../support/poll.ts';
import { harness } from './harness.ts';

const tokens = (text: string) => Math.ceil(text.length / 4);
const chatText = (messages: { role: string; content: string }[]) =>
  messages.map((m) => `${m.role}: ${m.content}\n`).join('');
/** A prompt of `chars` characters that differs from others with another `salt` from its first block. */
const longPrompt = (chars: number, salt: string) => {
  let s = '';
  for (let i = 0; s.length < chars; i++) s += `${salt} sentence ${i} about the shared context. `;
  return s.slice(0, chars);
};
const FILLER = /^( [a-z]{3})+$/;
const json = async (res: Response) => (await res.json()) as any;

describe('llm-sim API', () => {
  let sim: Sim;
  before(async () => {
    sim = await startSim();
  });
  after(() => sim.stop());

  const messages = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Say hello to the simulator, please.' },
  ];

  test('non-streaming chat completion: OpenAI shape, filler text, exact usage', async () => {
    const res = await sim.post('/v1/chat/completions', { model: 'sim-model', messages, max_tokens: 7 });
    assert.equal(res.status, 200);
    const body = await json(res);
    assert.match(body.id, /^chatcmpl-/);
    assert.equal(body.object, 'chat.completion');
    assert.equal(body.model, 'sim-model');
    assert.equal(body.choices.length, 1);
    assert.equal(body.choices[0].message.role, 'assistant');
    assert.match(body.choices[0].message.content, FILLER);
    assert.equal(body.choices[0].message.content.length, 7 * 4);
    assert.equal(body.choices[0].finish_reason, 'length');
    const p = tokens(chatText(messages));
    assert.deepEqual(body.usage, {
      prompt_tokens: p,
      completion_tokens: 7,
      total_tokens: p + 7,
      prompt_tokens_details: { cached_tokens: 0 },
    });
    // Deterministic: the same request gives the same words.
    const again = await json(await sim.post('/v1/chat/completions', { messages, max_tokens: 7 }));
    assert.equal(again.choices[0].message.content, body.choices[0].message.content);
  });

  test('non-streaming text completion; x-request-id names the request', async () => {
    const res = await sim.post(
      '/v1/completions',
      { prompt: 'Once upon a time', max_tokens: 3 },
      { headers: { 'x-request-id': 'text-1' } },
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-request-id'), 'text-1');
    const body = await json(res);
    assert.equal(body.id, 'cmpl-text-1');
    assert.equal(body.object, 'text_completion');
    assert.match(body.choices[0].text, FILLER);
    assert.equal(body.usage.prompt_tokens, 4);
    assert.equal(body.usage.completion_tokens, 3);
    assert.equal((await sim.record('cmpl-text-1'))?.outcome, 'finished');
  });

  test('streaming with include_usage: content chunks (usage null), a usage chunk, then [DONE]', async () => {
    const res = await sim.post('/v1/chat/completions', {
      messages,
      max_tokens: 7,
      stream: true,
      stream_options: { include_usage: true },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const events = (await sseReader(res).rest()) as any[];
    assert.equal(events.length, 7 + 2);
    const chunks = events.slice(0, 7);
    for (const [i, c] of chunks.entries()) {
      assert.equal(c.object, 'chat.completion.chunk');
      assert.equal(c.usage, null);
      assert.equal(c.choices[0].finish_reason, i === 6 ? 'length' : null);
    }
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    const streamed = chunks.map((c) => c.choices[0].delta.content).join('');
    const whole = await json(await sim.post('/v1/chat/completions', { messages, max_tokens: 7 }));
    assert.equal(streamed, whole.choices[0].message.content);
    const usageChunk = events[7];
    assert.deepEqual(usageChunk.choices, []);
    assert.equal(usageChunk.id, chunks[0].id);
    assert.deepEqual(usageChunk.usage, whole.usage);
    assert.equal(events[8], '[DONE]');
  });

  test('streaming without include_usage: no usage key and no usage chunk', async () => {
    const res = await sim.post('/v1/completions', { prompt: 'abc', max_tokens: 4, stream: true });
    const events = (await sseReader(res).rest()) as any[];
    assert.equal(events.length, 5);
    assert.equal(events[4], '[DONE]');
    for (const c of events.slice(0, 4)) {
      assert.equal(c.object, 'text_completion');
      assert.equal('usage' in c, false);
      assert.equal(c.choices.length, 1);
      assert.match(c.choices[0].text, FILLER);
    }
  });

  test('GET /v1/models lists the served model', async () => {
    const body = await json(await fetch(`${sim.url}/v1/models`));
    assert.equal(body.object, 'list');
    assert.deepEqual(
      body.data.map((m: any) => [m.id, m.object]),
      [['sim-model', 'model']],
    );
    assert.equal(body.data[0].max_model_len, 1024 * 16);
  });

  test('errors have the OpenAI shape: 400 malformed, 404 unknown model, 400 too long', async () => {
    const malformed = await sim.post('/v1/chat/completions', '{"messages": [');
    assert.equal(malformed.status, 400);
    const m = await json(malformed);
    assert.equal(typeof m.error.message, 'string');
    assert.equal(m.error.type, 'invalid_request_error');
    assert.equal(m.error.code, 'invalid_json');

    const noMessages = await sim.post('/v1/chat/completions', { max_tokens: 3 });
    assert.equal(noMessages.status, 400);
    assert.equal((await json(noMessages)).error.param, 'messages');

    const model = await sim.post('/v1/completions', { model: 'gpt-9', prompt: 'x' });
    assert.equal(model.status, 404);
    assert.equal((await json(model)).error.code, 'model_not_found');

    const tooLong = await sim.post('/v1/completions', { prompt: 'x', max_tokens: 1024 * 16 });
    assert.equal(tooLong.status, 400);
    assert.equal((await json(tooLong)).error.code, 'context_length_exceeded');
  });
});

describe('llm-sim metrics and batching', () => {
  let sim: Sim;
  before(async () => {
    sim = await startSim(['--max-num-seqs', '2']);
  });
  after(() => sim.stop());

  test('/metrics has the vLLM names; running/waiting follow load beyond max-num-seqs', async () => {
    const page = await sim.metricsText();
    for (const name of [
      'vllm:num_requests_waiting',
      'vllm:num_requests_running',
      'vllm:kv_cache_usage_perc',
      'vllm:prefix_cache_queries_total',
      'vllm:prefix_cache_hits_total',
      'vllm:time_to_first_token_seconds_count',
      'vllm:generation_tokens_total',
      'vllm:prompt_tokens_total',
      'llmsim_tokens_after_abort_total',
    ]) {
      assert.notEqual(metricValue(page, name), undefined, `${name} missing`);
    }
    assert.equal(
      metricValue(
        page,
        'vllm:cache_config_info{block_size="16",num_gpu_blocks="1024",enable_prefix_caching="True"}',
      ),
      1,
    );
    assert.match(page, /# TYPE vllm:time_to_first_token_seconds histogram/);

    const controllers = Array.from({ length: 5 }, () => new AbortController());
    const streams = await Promise.all(
      controllers.map((c, i) =>
        sim.post(
          '/v1/completions',
          { prompt: `request ${i}`, max_tokens: 2000, stream: true },
          { signal: c.signal },
        ),
      ),
    );
    const loaded = await until(
      async () => {
        const p = await sim.metricsText();
        const running = metricValue(p, 'vllm:num_requests_running');
        const waiting = metricValue(p, 'vllm:num_requests_waiting');
        const firstTokens = metricValue(p, 'vllm:time_to_first_token_seconds_count');
        return running === 2 && waiting === 3 && firstTokens === 2 && p;
      },
      '2 running (past their first token) and 3 waiting',
      { timeoutMs: 10_000 },
    );
    assert.ok(metricValue(loaded, 'vllm:kv_cache_usage_perc')! > 0);
    assert.ok(metricValue(loaded, 'vllm:generation_tokens_total')! >= 2);

    for (const c of controllers) c.abort();
    await Promise.all(streams.map((s) => s.body?.cancel().catch(() => {})));
    const idle = await until(
      async () => {
        const p = await sim.metricsText();
        const zero =
          metricValue(p, 'vllm:num_requests_running') === 0 &&
          metricValue(p, 'vllm:num_requests_waiting') === 0;
        return zero && p;
      },
      'the aborted requests to leave',
      { timeoutMs: 10_000 },
    );
    assert.equal(metricValue(idle, 'vllm:kv_cache_usage_perc'), 0);
    assert.equal(metricValue(idle, 'llmsim_tokens_after_abort_total'), 0);
    assert.equal((await sim.state()).counters.aborted, 5);
  });
});

describe('llm-sim prefix caching', () => {
  let sim: Sim;
  before(async () => {
    sim = await startSim();
  });
  after(() => sim.stop());

  test('the same long prompt twice: cached tokens, fewer steps to the first token, hit counter', async () => {
    const prompt = longPrompt(20_000, 'doc'); // 5000 tokens: 3 steps of prefill at 2048 per step
    const ask = async (id: string) => {
      const res = await sim.post(
        '/v1/completions',
        { prompt, max_tokens: 4 },
        { headers: { 'x-request-id': id } },
      );
      assert.equal(res.status, 200);
      return (await json(res)).usage;
    };
    const before = await sim.metricsText();
    const first = await ask('cold');
    const second = await ask('warm');
    const after = await sim.metricsText();

    assert.equal(first.prompt_tokens, 5000);
    assert.equal(first.prompt_tokens_details.cached_tokens, 0);
    // Every full block but the one holding the last token (which is always computed).
    assert.equal(second.prompt_tokens_details.cached_tokens, Math.floor(4999 / 16) * 16);

    const cold = (await sim.record('cmpl-cold'))!;
    const warm = (await sim.record('cmpl-warm'))!;
    assert.equal(cold.ttftSteps, 3);
    assert.equal(warm.ttftSteps, 1);
    assert.ok(warm.ttftSimMs! < cold.ttftSimMs! / 10, `${warm.ttftSimMs} vs ${cold.ttftSimMs}`);

    const delta = (name: string) => metricValue(after, name)! - metricValue(before, name)!;
    assert.equal(delta('vllm:prefix_cache_queries_total'), 10_000);
    assert.equal(delta('vllm:prefix_cache_hits_total'), second.prompt_tokens_details.cached_tokens);

    // Another prompt sharing only the first half hits only that half.
    const half = prompt.slice(0, 10_000) + longPrompt(10_000, 'other');
    const res = await json(await sim.post('/v1/completions', { prompt: half, max_tokens: 1 }));
    assert.equal(res.usage.prompt_tokens_details.cached_tokens, Math.floor(2500 / 16) * 16);
  });
});

describe('llm-sim KV capacity', () => {
  let sim: Sim;
  before(async () => {
    sim = await startSim(['--num-blocks', '40']); // 640 tokens of KV
  });
  after(() => sim.stop());

  test('a request whose blocks do not fit waits; usage counts held blocks', async () => {
    // 10 prompt + 500 output tokens reserve 32 of the 40 blocks: a second one cannot fit.
    const ctl = [new AbortController(), new AbortController()];
    const streams = await Promise.all(
      ctl.map((c, i) =>
        sim.post(
          '/v1/completions',
          { prompt: `fits ${i}`.padEnd(40, '.'), max_tokens: 500, stream: true },
          { headers: { 'x-request-id': `kv-${i}` }, signal: c.signal },
        ),
      ),
    );
    const s = await until(
      async () => {
        const st = await sim.state();
        return st.running === 1 && st.waiting === 1 && st;
      },
      'one running, one waiting for blocks',
      { timeoutMs: 10_000 },
    );
    assert.equal(metricValue(await sim.metricsText(), 'vllm:kv_cache_usage_perc'), 32 / 40);
    // The one waiting gets in as soon as the other leaves.
    const [runningId] = s.runningIds;
    ctl[runningId === 'cmpl-kv-0' ? 0 : 1]!.abort();
    await until(async () => (await sim.state()).waiting === 0, 'the second to be admitted', {
      timeoutMs: 10_000,
    });
    for (const c of ctl) c.abort();
    await Promise.all(streams.map((r) => r.body?.cancel().catch(() => {})));
    await until(async () => (await sim.state()).running === 0, 'idle', { timeoutMs: 10_000 });
  });

  test('cached blocks are evicted least recently released first, a prefix tail first', async () => {
    const a = longPrompt(1600, 'alpha'); // 400 tokens: 25 full blocks (+1 reserved for output)
    const b = longPrompt(1600, 'beta');
    const cached = async (prompt: string) =>
      (await json(await sim.post('/v1/completions', { prompt, max_tokens: 1 }))).usage.prompt_tokens_details
        .cached_tokens;
    assert.equal(await cached(a), 0);
    // b needs 26 blocks; 15 were never used, so 11 of a's 25 go: its last ones.
    assert.equal(await cached(b), 0);
    assert.equal(await cached(a), 14 * 16);
  });
});

describe('llm-sim aborts', () => {
  let sim: Sim;
  before(async () => {
    sim = await startSim(['--max-num-seqs', '1']);
  });
  after(() => sim.stop());

  test('abort mid-stream: the request leaves at the next step boundary, 0 tokens after abort', async () => {
    const ctl = new AbortController();
    const res = await sim.post(
      '/v1/chat/completions',
      { messages: [{ role: 'user', content: 'long answer please' }], max_tokens: 2000, stream: true },
      { headers: { 'x-request-id': 'mid' }, signal: ctl.signal },
    );
    const sse = sseReader(res);
    for (let i = 0; i < 3; i++) assert.ok(await sse.next());
    ctl.abort();

    const rec = await until(() => sim.record('chatcmpl-mid'), 'the aborted request to leave', {
      timeoutMs: 10_000,
    });
    assert.equal(rec.outcome, 'aborted');
    // Left at the first boundary after the close was seen.
    assert.ok(rec.endStep - rec.closedAtStep! <= 1, JSON.stringify(rec));
    assert.ok(rec.completionTokens >= 3 && rec.completionTokens < 2000);
    assert.equal(rec.tokensAfterAbort, 0);
    const state = await sim.state();
    assert.deepEqual(state.runningIds, []);
    assert.equal(metricValue(await sim.metricsText(), 'llmsim_tokens_after_abort_total'), 0);
  });

  test('abort of a running non-streaming request: it leaves, 0 tokens after abort', async () => {
    const ctl = new AbortController();
    const start = (await sim.state()).steps;
    const pending = sim
      .post(
        '/v1/completions',
        { prompt: 'a long answer, not streamed', max_tokens: 2000 },
        { headers: { 'x-request-id': 'whole' }, signal: ctl.signal },
      )
      .catch((e: Error) => e);
    await until(
      async () => {
        const s = await sim.state();
        return s.runningIds.includes('cmpl-whole') && s.steps > start + 3;
      },
      'it to run',
      { timeoutMs: 10_000 },
    );
    ctl.abort();
    assert.ok((await pending) instanceof Error);
    const rec = await until(() => sim.record('cmpl-whole'), 'it to leave', { timeoutMs: 10_000 });
    assert.equal(rec.outcome, 'aborted');
    assert.ok(rec.completionTokens > 0 && rec.endStep - rec.closedAtStep! <= 1, JSON.stringify(rec));
    assert.equal(rec.tokensAfterAbort, 0);
    assert.equal((await sim.state()).running, 0);
  });

  test('abort of a queued non-streaming request: it leaves the queue without running', async () => {
    const busy = new AbortController();
    const first = await sim.post(
      '/v1/completions',
      { prompt: 'occupy the only slot', max_tokens: 2000, stream: true },
      { headers: { 'x-request-id': 'busy' }, signal: busy.signal },
    );
    const sse = sseReader(first);
    assert.ok(await sse.next());

    const queued = new AbortController();
    const pending = sim
      .post(
        '/v1/completions',
        { prompt: 'wait in line', max_tokens: 5 },
        { headers: { 'x-request-id': 'queued' }, signal: queued.signal },
      )
      .catch((e: Error) => e);
    await until(async () => (await sim.state()).waitingIds.includes('cmpl-queued'), 'queued', {
      timeoutMs: 10_000,
    });
    queued.abort();
    assert.ok((await pending) instanceof Error);
    const rec = await until(() => sim.record('cmpl-queued'), 'the queued request to leave', {
      timeoutMs: 10_000,
    });
    assert.equal(rec.outcome, 'aborted');
    assert.equal(rec.admittedStep, null);
    assert.equal(rec.completionTokens, 0);
    const state = await sim.state();
    assert.equal(state.waiting, 0);
    assert.deepEqual(state.runningIds, ['cmpl-busy']);

    busy.abort();
    await until(async () => (await sim.state()).running === 0, 'idle', { timeoutMs: 10_000 });
    assert.equal(metricValue(await sim.metricsText(), 'llmsim_tokens_after_abort_total'), 0);
  });
});

test('the built-in llm-sim template runs through the local agent and answers on its backend', async () => {
  // And an admin's variant as docs/templates.md shows it: {appsDir}, other flags, and readiness
  // that waits out the model's warm-up.
  const variant: TemplateSpec = {
    name: 'llm-sim-variant',
    description: 'test: llm-sim with other flags',
    services: [
      {
        name: 'api',
        protocol: 'http',
        command: [
          '{node}',
          '{appsDir}/llm-sim/server.mjs',
          '--host',
          '{host}',
          '--port',
          '{port}',
          '--model',
          'variant-model',
          '--startup-delay-ms',
          '500',
        ],
        readiness: { kind: 'http', path: '/health' },
      },
    ],
  };
  const h = harness([...builtinTemplates(), variant]);
  after(() => h.cleanup());
  await h.agent.launch('llm-1', 'llm-sim');
  const running = await h.report('llm-1', 'RUNNING');
  const services = running.services ?? [];
  assert.deepEqual(
    services.map((s) => [s.name, s.protocol, s.host]),
    [['api', 'http', '127.0.0.1']],
  );
  const res = await fetch(`http://127.0.0.1:${services[0]!.port}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
  });
  assert.equal(res.status, 200);
  const body = await json(res);
  assert.equal(body.usage.completion_tokens, 2);
  assert.equal(body.model, 'sim-model');
  await h.agent.terminate('llm-1');
  await h.report('llm-1', 'TERMINATED');

  await h.agent.launch('llm-2', 'llm-sim-variant');
  const port = (await h.report('llm-2', 'RUNNING')).services![0]!.port;
  assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
  const models = await json(await fetch(`http://127.0.0.1:${port}/v1/models`));
  assert.equal(models.data[0].id, 'variant-model');
});
