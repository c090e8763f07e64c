/**
 * llm-sim faults (crash, hang, slow, status, broken, clear, --fault) and the model's warm-up
 * (--startup-delay-ms), on real processes on loopback. Slowness is checked in simulated time and
 * steps (/_sim/state), never in wall time.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type Sim, sseReader, startSim } from '../../support/llm-sim.ts';
import { until } from '../../support/poll.ts';

/** A prompt of `chars` characters that differs from others with another `salt` from its first block. */
const longPrompt = (chars: number, salt: string) => {
  let s = '';
  for (let i = 0; s.length < chars; i++) s += `${salt} sentence ${i} about the shared context. `;
  return s.slice(0, chars);
};
const json = async (res: Response) => (await res.json()) as any;

describe('llm-sim faults', () => {
  const complete = (sim: Sim, extra: Record<string, unknown> = {}) =>
    sim.post('/v1/completions', { prompt: 'ping', max_tokens: 2, ...extra });

  test('crash: the process exits 1 at once', async () => {
    const sim = await startSim();
    await sim.fault({ kind: 'crash' });
    assert.deepEqual(await sim.exited, { code: 1, signal: null });
  });

  test('hang: no step and no answer (requests held, sockets open) until cleared', async () => {
    const sim = await startSim();
    after(() => sim.stop());
    const ctl = new AbortController();
    const res = await sim.post(
      '/v1/completions',
      { prompt: 'stream through a hang', max_tokens: 2000, stream: true },
      { signal: ctl.signal },
    );
    const sse = sseReader(res);
    assert.ok(await sse.next());
    await sim.fault({ kind: 'hang' });
    // The step in flight ends and is held: no further step.
    const stalled = await until(
      async () => {
        const s = await sim.state();
        return s.stalled && s;
      },
      'the engine to stall',
      { timeoutMs: 5000 },
    );
    let answered = false;
    const health = fetch(`${sim.url}/health`).then((r) => {
      answered = true;
      return r.status;
    });
    const held = await until(
      async () => {
        const s = await sim.state();
        return s.held === 1 && s;
      },
      'the health check to be held',
      { timeoutMs: 5000 },
    );
    assert.equal(held.steps, stalled.steps);
    assert.equal(answered, false);

    await sim.fault({ kind: 'clear' });
    assert.equal(await health, 200);
    assert.ok(await sse.next()); // the stream goes on
    assert.ok((await sim.state()).steps > stalled.steps);
    ctl.abort();
  });

  test('slow ×3: time to first token is 3× in simulated time, same steps; clear restores', async () => {
    const sim = await startSim();
    after(() => sim.stop());
    // 2500 tokens: 2 prefill steps. Different text each time, so no cache hit.
    const ttft = async (salt: string) => {
      const res = await sim.post(
        '/v1/completions',
        { prompt: longPrompt(10_000, salt), max_tokens: 1 },
        { headers: { 'x-request-id': salt } },
      );
      assert.equal(res.status, 200);
      assert.equal((await json(res)).usage.prompt_tokens_details.cached_tokens, 0);
      return (await sim.record(`cmpl-${salt}`))!;
    };
    const normal = await ttft('normal');
    await sim.fault({ kind: 'slow', factor: 3 });
    const slow = await ttft('slow');
    await sim.fault({ kind: 'clear' });
    const cleared = await ttft('cleared');
    assert.equal(normal.ttftSteps, 2);
    assert.equal(slow.ttftSteps, 2);
    assert.ok(
      Math.abs(slow.ttftSimMs! - 3 * normal.ttftSimMs!) < 1e-6,
      `${slow.ttftSimMs} vs ${normal.ttftSimMs}`,
    );
    assert.ok(Math.abs(cleared.ttftSimMs! - normal.ttftSimMs!) < 1e-6);
  });

  test('status: 503 and 429 with Retry-After while /health stays 200; durationMs clears it', async () => {
    const sim = await startSim();
    after(() => sim.stop());
    await sim.fault({ kind: 'status', status: 503 });
    const unavailable = await complete(sim);
    assert.equal(unavailable.status, 503);
    assert.ok(Number(unavailable.headers.get('retry-after')) >= 1);
    const body = await json(unavailable);
    assert.equal(body.error.type, 'server_error');
    assert.equal(typeof body.error.message, 'string');
    assert.equal((await fetch(`${sim.url}/health`)).status, 200);

    await sim.fault({ kind: 'status', status: 429 });
    const limited = await complete(sim, { stream: true });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal((await json(limited)).error.code, 'rate_limit_exceeded');

    await sim.fault({ kind: 'clear' });
    assert.equal((await complete(sim)).status, 200);

    await sim.fault({ kind: 'status', status: 503, durationMs: 300 });
    assert.equal((await complete(sim)).status, 503);
    await until(async () => (await complete(sim)).status === 200, 'the fault to expire', { timeoutMs: 5000 });
    assert.equal((await sim.state()).fault.kind, 'none');
  });

  test('broken: healthy, but completions are cut after the first chunk; clear restores', async () => {
    const sim = await startSim();
    after(() => sim.stop());
    await sim.fault({ kind: 'broken' });
    assert.equal((await fetch(`${sim.url}/health`)).status, 200);

    const res = await complete(sim, { max_tokens: 50, stream: true });
    assert.equal(res.status, 200);
    const sse = sseReader(res);
    const first = (await sse.next()) as any;
    assert.equal(first.choices.length, 1);
    await assert.rejects(sse.next()); // cut: no more chunk, no [DONE]

    await assert.rejects(complete(sim, { max_tokens: 50 })); // nothing answered at all
    assert.equal((await sim.state()).counters.broken, 2);

    await sim.fault({ kind: 'clear' });
    const ok = await complete(sim, { max_tokens: 3, stream: true });
    const events = await sseReader(ok).rest();
    assert.equal(events.at(-1), '[DONE]');
    assert.equal(events.length, 4);
  });

  test('--fault at start: status:429', async () => {
    const sim = await startSim(['--fault', 'status:429']);
    after(() => sim.stop());
    assert.equal((await complete(sim)).status, 429);
  });
});

test('--startup-delay-ms: /health and completions answer 503 while the model "loads", then 200', async () => {
  const sim = await startSim(['--startup-delay-ms', '3000']);
  after(() => sim.stop());
  assert.equal((await fetch(`${sim.url}/health`)).status, 503);
  const early = await sim.post('/v1/completions', { prompt: 'x', max_tokens: 1 });
  assert.equal(early.status, 503);
  assert.ok(early.headers.get('retry-after'));
  assert.equal((await json(early)).error.code, 'model_loading');
  await until(async () => (await fetch(`${sim.url}/health`)).status === 200, 'health 200', {
    timeoutMs: 15_000,
  });
  assert.match(sim.output(), /llm-sim ready/);
  assert.equal((await sim.post('/v1/completions', { prompt: 'x', max_tokens: 1 })).status, 200);
});
