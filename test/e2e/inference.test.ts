/**
 * Inference endpoints under real clients and real faults, on the embedded system with llm-sim
 * replicas as processes (address routes, so a test can SIGKILL and SIGSTOP them): the `openai`
 * client streaming through an endpoint of three replicas, usage recorded for every completed
 * stream; a replica killed and another stopped under load (no request that had sent no byte
 * fails; both are ejected and readmitted); routes replaced under load (no stream dropped); client
 * aborts in every phase (the engine generates nothing after them); key scope, model scope,
 * expiry and public endpoints; requests held until the first replica is healthy.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { type Sim, startSim } from '../support/llm-sim.ts';
import { until } from '../support/poll.ts';
import { startTestSystem, type TestSystem } from '../support/system.ts';

const FAST = ['--time-scale', '0.2'];

function chatBody(content: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'sim-model', messages: [{ role: 'user', content }], max_tokens: 8, ...extra };
}

async function post(url: string, body: unknown, key: string | null, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}v1/chat/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

/** A streamed answer read whole: its data payloads, and whether the stream ended with [DONE]. */
async function readStream(res: Response): Promise<{ events: any[]; done: boolean; text: string }> {
  const text = await res.text();
  const events: any[] = [];
  let done = false;
  for (const block of text.split('\n\n')) {
    for (const line of block.split('\n')) {
      if (!line.startsWith('data: ')) continue;
      const d = line.slice(6);
      if (d === '[DONE]') done = true;
      else events.push(JSON.parse(d));
    }
  }
  return { events, done, text };
}

describe('inference endpoints under real clients and faults', () => {
  let t: TestSystem;
  const sims: Sim[] = [];
  before(async () => {
    t = await startTestSystem({ manager: { port: 0, endpoints: { allowPublic: true } } });
  });
  after(async () => {
    for (const s of sims) {
      try {
        s.child.kill('SIGCONT');
      } catch {}
      await s.stop().catch(() => {});
    }
    await t?.close();
  });

  async function sim(args: string[] = FAST): Promise<Sim> {
    const s = await startSim(args);
    sims.push(s);
    return s;
  }

  async function endpoint(name: string, routes: Sim[], settings: Record<string, unknown> = {}) {
    const res = await t.api('POST', '/v1/endpoints', {
      name,
      frontend: 'port',
      settings,
      routes: routes.map((s, i) => ({ id: `r${i}`, host: '127.0.0.1', port: s.port })),
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { id: string; url: string };
  }

  async function key(endpointId: string, extra: Record<string, unknown> = {}): Promise<string> {
    const res = await t.api('POST', `/v1/endpoints/${endpointId}/tokens`, { name: 'k', ...extra });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.key;
  }

  test('the openai client streams through three replicas; usage is recorded for every completed stream', async () => {
    const replicas = await Promise.all([sim(), sim(), sim()]);
    const ep = await endpoint('openai', replicas, { balancing: 'llm' });
    const k = await key(ep.id);
    const client = new OpenAI({ baseURL: `${ep.url}v1`, apiKey: k, maxRetries: 0 });
    const streams = await Promise.all(
      Array.from({ length: 9 }, async (_, i) => {
        const stream = await client.chat.completions.create({
          model: 'sim-model',
          messages: [
            { role: 'system', content: 'You are a helpful assistant. '.repeat(20) },
            { role: 'user', content: `question ${i}` },
          ],
          max_tokens: 6,
          stream: true,
        });
        let text = '';
        let usageChunks = 0;
        for await (const chunk of stream) {
          text += chunk.choices[0]?.delta?.content ?? '';
          if (chunk.usage) usageChunks++;
        }
        return { text, usageChunks };
      }),
    );
    for (const s of streams) {
      assert.ok(s.text.length > 0, 'every stream carried content');
      // The proxy asked the engine for usage; the client did not, so it sees no usage chunk.
      assert.equal(s.usageChunks, 0);
    }
    // A client that asks for usage gets it, exactly once.
    const asked = await client.chat.completions.create({
      model: 'sim-model',
      messages: [{ role: 'user', content: 'with usage' }],
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: { completion_tokens: number } | null = null;
    for await (const chunk of asked) if (chunk.usage) usage = chunk.usage;
    assert.equal(usage?.completion_tokens, 5);
    // Every replica served some (prefix affinity with load spreading, 10 requests).
    const served = await Promise.all(replicas.map(async (r) => (await r.state()).counters.finished ?? 0));
    assert.equal(
      served.reduce((a, b) => a + b, 0),
      10,
    );
    const recorded = await until(
      async () => {
        const u = await t.api('GET', `/v1/endpoints/${ep.id}/usage`);
        return u.body?.total?.requests === 10 ? u.body : undefined;
      },
      'usage of 10 streams recorded',
      { timeoutMs: 10_000 },
    );
    assert.equal(recorded.total.completionTokens, 9 * 6 + 5);
    assert.equal(recorded.total.estimatedRequests, 0);
    assert.ok(recorded.total.promptTokens > 0);
    assert.equal(recorded.keys.length, 1);
    // Each route's last minute, as the endpoint's answer gives it: every request once, no error,
    // latencies and times to first token read from the worker's buckets.
    const traffic = await until(
      async () => {
        const e = await t.api('GET', `/v1/endpoints/${ep.id}`);
        const rs = e.body.routes as { id: string; traffic?: any }[];
        const sum = rs.reduce((n, r) => n + (r.traffic?.requests ?? 0), 0);
        return sum === 10 ? rs : undefined;
      },
      'the routes report 10 requests',
      { timeoutMs: 10_000 },
    );
    for (const r of traffic) {
      const tr = r.traffic;
      assert.ok(tr, `route ${r.id} reports its traffic`);
      assert.equal(tr.windowS, 60);
      assert.equal(tr.errors, 0);
      assert.equal(tr.inflight, 0, 'nothing in flight once every stream ended');
      if (tr.requests === 0) continue;
      assert.equal(tr.errorRate, 0);
      assert.ok(tr.latencyMs.p50 > 0 && tr.latencyMs.p50 <= tr.latencyMs.p99, JSON.stringify(tr));
      assert.ok(tr.ttftMs.p50 > 0 && tr.ttftMs.p50 <= tr.latencyMs.p99, JSON.stringify(tr));
    }
  });

  test('a replica SIGKILLed and another SIGSTOPped under load: no request that had sent no byte fails; both ejected and readmitted', async () => {
    const replicas = await Promise.all([sim(), sim(), sim()]);
    const [killed, stopped] = replicas as [Sim, Sim, Sim];
    const ep = await endpoint('faults', replicas, {
      balancing: 'least-inflight',
      // Probes patient enough for a busy CI machine (a healthy replica must not look stopped).
      healthCheck: {
        path: '/health',
        intervalMs: 300,
        timeoutMs: 250,
        unhealthyThreshold: 2,
        healthyThreshold: 1,
      },
      passive: { consecutiveFailures: 2, baseEjectionMs: 1000 },
      // A fault drill: every waiting request of the stopped replica retries at once.
      retry: { attempts: 3, minRetries: 50 },
      streamIdleTimeoutMs: 2000,
      headersTimeoutMs: 30_000,
    });
    await until(
      async () => {
        const e = await t.api('GET', `/v1/endpoints/${ep.id}`);
        return e.body.routes.every((r: any) => r.health?.state === 'healthy');
      },
      'every route healthy',
      { timeoutMs: 10_000 },
    );
    const k = await key(ep.id);
    let stop = false;
    const outcomes = { ok: 0, cutAfterBytes: 0, failedBeforeBytes: [] as string[] };
    const worker = async () => {
      while (!stop) {
        const res = await post(ep.url, chatBody('load', { stream: true, max_tokens: 12 }), k).catch(
          (err: Error) => err,
        );
        if (res instanceof Error) {
          outcomes.failedBeforeBytes.push(res.message);
          continue;
        }
        if (res.status !== 200) {
          outcomes.failedBeforeBytes.push(`${res.status} ${await res.text()}`);
          continue;
        }
        const s = await readStream(res).catch(() => null);
        const content = s?.events.some((e) => e.choices?.[0]?.delta?.content) ?? false;
        const error = s?.events.find((e) => e.error);
        if (s?.done && !error) outcomes.ok++;
        else if (content && s?.done) outcomes.cutAfterBytes++;
        else outcomes.failedBeforeBytes.push(`no content: ${s?.text.slice(0, 300)}`);
      }
    };
    const load = Promise.all(Array.from({ length: 6 }, worker));
    await new Promise((r) => setTimeout(r, 800));
    const killedPort = killed.port;
    killed.child.kill('SIGKILL');
    stopped.child.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 3000));
    const during = await t.api('GET', `/v1/endpoints/${ep.id}`);
    const state = (id: string) => during.body.routes.find((r: any) => r.id === id)?.health?.state;
    assert.notEqual(state('r0'), 'healthy', 'the killed replica is out');
    assert.notEqual(state('r1'), 'healthy', 'the stopped replica is out');
    assert.equal(state('r2'), 'healthy');
    // The streams and attempts the two replicas broke are their routes' errors, not r2's.
    const errorsOf = await until(
      async () => {
        const e = await t.api('GET', `/v1/endpoints/${ep.id}`);
        const errs = (id: string) => e.body.routes.find((r: any) => r.id === id)?.traffic?.errors ?? 0;
        return errs('r0') + errs('r1') > 0 ? { r0: errs('r0'), r1: errs('r1'), r2: errs('r2') } : undefined;
      },
      'the broken replicas counted errors',
      { timeoutMs: 10_000 },
    );
    assert.equal(errorsOf.r2, 0, JSON.stringify(errorsOf));
    stop = true;
    await load;
    assert.deepEqual(outcomes.failedBeforeBytes, [], 'requests that had sent nothing are retried elsewhere');
    assert.ok(outcomes.ok > 10, `requests went on (${outcomes.ok} ok, ${outcomes.cutAfterBytes} cut)`);
    // Recovery: the killed replica comes back on its port, the stopped one continues.
    const back = await sim([...FAST, '--port', String(killedPort)]);
    assert.equal(back.port, killedPort);
    stopped.child.kill('SIGCONT');
    await until(
      async () => {
        const e = await t.api('GET', `/v1/endpoints/${ep.id}`);
        return e.body.routes.every((r: any) => r.health?.state === 'healthy');
      },
      'both replicas readmitted',
      { timeoutMs: 15_000 },
    );
    const after = await Promise.all(
      Array.from({ length: 12 }, () => post(ep.url, chatBody('after'), k).then((r) => r.status)),
    );
    assert.deepEqual(new Set(after), new Set([200]));
  });

  test('a replica that sends its head and dies before the first token: the request goes to another route', async () => {
    const good = await sim();
    // Answers every completion with a 200 event-stream head, then cuts the connection.
    let cut = 0;
    const dying = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        cut++;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.flushHeaders();
        setTimeout(() => res.socket?.destroy(), 5);
      });
    });
    await new Promise<void>((r) => dying.listen(0, '127.0.0.1', r));
    try {
      const port = (dying.address() as AddressInfo).port;
      const res = await t.api('POST', '/v1/endpoints', {
        name: 'head-then-die',
        frontend: 'port',
        settings: {
          balancing: 'round-robin',
          passive: { consecutiveFailures: 100 },
          // Half the requests retry at once: the budget's floor must cover them.
          retry: { minRetries: 10 },
        },
        routes: [
          { id: 'dying', host: '127.0.0.1', port },
          { id: 'good', host: '127.0.0.1', port: good.port },
        ],
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const k = await key(res.body.id);
      const streams = await Promise.all(
        Array.from({ length: 6 }, () =>
          post(res.body.url, chatBody('retry me', { stream: true }), k).then(readStream),
        ),
      );
      for (const s of streams) {
        assert.ok(s.done, s.text);
        assert.equal(s.events.filter((e) => e.error).length, 0, s.text);
        assert.ok(s.events.some((e) => e.choices?.[0]?.delta?.content));
      }
      assert.ok(cut >= 3, `the dying replica got its share (${cut})`);
    } finally {
      dying.close();
    }
  });

  test('routes replaced under load: no stream is dropped, new requests go to the new routes', async () => {
    const [a, b] = await Promise.all([sim(), sim()]);
    const ep = await endpoint('replace', [a]);
    const k = await key(ep.id);
    // Long streams on a, then the routes become [b] while they run.
    const running = Array.from({ length: 4 }, () =>
      post(ep.url, chatBody('long', { stream: true, max_tokens: 120 }), k).then(readStream),
    );
    await until(async () => (await a.state()).running === 4, 'streams running on a', { timeoutMs: 5000 });
    const put = await t.api('PUT', `/v1/endpoints/${ep.id}/routes`, {
      routes: [{ id: 'b', host: '127.0.0.1', port: b.port }],
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    await until(
      async () =>
        (await post(ep.url, chatBody('probe'), k)).status === 200 && (await b.state()).counters.finished! > 0,
      'new requests reach b',
      { timeoutMs: 5000 },
    );
    for (const s of await Promise.all(running)) {
      assert.ok(s.done, 'the stream ended with [DONE]');
      assert.equal(s.events.filter((e) => e.error).length, 0, s.text.slice(-300));
    }
    assert.equal((await a.state()).counters.finished, 4);
  });

  test('a client abort in any phase reaches the engine at once; it generates nothing after', async () => {
    // Chunked prefill (128 tokens a step, ~100 ms each): a long prompt awaits its first token for
    // about a second, a window no poll on a busy machine misses.
    const slow = await sim([
      '--time-scale',
      '1',
      '--t0-ms',
      '40',
      '--per-prefill-token-ms',
      '0.5',
      '--step-budget',
      '128',
    ]);
    const ep = await endpoint('aborts', [slow]);
    const k = await key(ep.id);
    const lastRecord = async (before: number) =>
      until(
        async () => {
          const st = await slow.state();
          return st.recent.length > before ? st.recent[st.recent.length - 1] : undefined;
        },
        'the aborted request leaves the engine',
        { timeoutMs: 5000 },
      );
    for (const phase of ['first-token', 'mid-stream', 'non-streaming'] as const) {
      // Three tries per phase; the median is judged (one slow try on a busy machine is noise).
      const lags: number[] = [];
      for (let i = 0; i < 3; i++) {
        const before = (await slow.state()).recent.length;
        const ac = new AbortController();
        // A long prompt, new to the engine's prefix cache (each try starts with its own words:
        // a prompt prefilled by an earlier try would be a cache hit with its first token at once).
        const content = phase === 'mid-stream' ? phase : `${phase} try ${i} ${'word '.repeat(1200)}`;
        const pending = post(
          ep.url,
          chatBody(content, { stream: phase !== 'non-streaming', max_tokens: 200 }),
          k,
          ac.signal,
        ).catch((e: Error) => e);
        let abortedAt: number;
        if (phase === 'mid-stream') {
          const res = await pending;
          assert.ok(!(res instanceof Error));
          const reader = (res as Response).body!.getReader();
          await reader.read();
          await reader.read();
          abortedAt = Date.now();
          ac.abort();
        } else {
          await until(async () => (await slow.state()).running === 1, 'running', { timeoutMs: 5000 });
          abortedAt = Date.now();
          ac.abort();
        }
        await pending;
        const r = await lastRecord(before);
        assert.equal(r.outcome, 'aborted', `${phase}: ${JSON.stringify(r)}`);
        if (phase !== 'mid-stream')
          assert.equal(r.firstTokenStep, null, `${phase}: aborted before its first token`);
        assert.equal(r.tokensAfterAbort, 0, phase);
        lags.push(r.closedAtMs! - abortedAt);
      }
      lags.sort((a, b) => a - b);
      assert.ok(lags[1]! <= 50, `${phase}: the engine saw the close ${lags.join(', ')} ms after the abort`);
    }
    // Held: nothing is ready; the request waits, the client leaves, the replica never sees it.
    const loading = await sim([...FAST, '--startup-delay-ms', '1500']);
    const held = await endpoint('held-abort', [loading], {
      healthCheck: { path: '/health', intervalMs: 100, timeoutMs: 90 },
    });
    const hk = await key(held.id);
    const ac = new AbortController();
    const pending = post(held.url, chatBody('held', { stream: true }), hk, ac.signal).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 300));
    ac.abort();
    await pending;
    await until(async () => (await loading.state()).ready, 'replica loaded', { timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(
      (await loading.state()).counters.requests ?? 0,
      0,
      'the aborted held request was never sent',
    );
  });

  test('held while no replica is ready, dispatched when the first turns healthy; SSE heartbeats meanwhile', async () => {
    const loading = await sim([...FAST, '--startup-delay-ms', '2500']);
    const ep = await endpoint('hold', [loading], {
      healthCheck: { path: '/health', intervalMs: 100, timeoutMs: 90 },
      hold: { timeoutMs: 20_000, heartbeatMs: 500 },
    });
    const k = await key(ep.id);
    const started = Date.now();
    const [streamed, plain] = await Promise.all([
      post(ep.url, chatBody('held stream', { stream: true }), k).then(async (r) => ({
        status: r.status,
        ...(await readStream(r)),
      })),
      post(ep.url, chatBody('held plain'), k).then(async (r) => ({ status: r.status, body: await r.json() })),
    ]);
    assert.ok(Date.now() - started >= 2000, 'answered only after the replica was ready');
    assert.equal(streamed.status, 200);
    assert.match(streamed.text, /^: waiting for a ready replica\n\n/, 'heartbeats first');
    assert.ok(streamed.done);
    assert.ok(streamed.events.some((e) => e.choices?.[0]?.delta?.content));
    assert.equal(plain.status, 200);
    assert.equal(plain.body.usage.completion_tokens, 8);
    // A hold that times out is a clear 503.
    const never = await sim([...FAST, '--startup-delay-ms', '60000']);
    const ep2 = await endpoint('hold-timeout', [never], {
      healthCheck: { path: '/health', intervalMs: 100, timeoutMs: 90 },
      hold: { timeoutMs: 500 },
    });
    const res = await post(ep2.url, chatBody('x'), await key(ep2.id));
    assert.equal(res.status, 503);
    assert.equal((await res.json()).error.code, 'AP_ERR_NO_ROUTE');
    assert.ok(res.headers.get('retry-after'));
  });

  test('scope: a key of one endpoint is refused on another; model-scoped keys; expiry; public endpoints take no key', async () => {
    const r = await sim();
    const a = await endpoint('scope-a', [r]);
    const b = await endpoint('scope-b', [r]);
    const ka = await key(a.id);
    assert.equal((await post(a.url, chatBody('hi'), ka)).status, 200);
    const refused = await post(b.url, chatBody('hi'), ka);
    assert.equal(refused.status, 401);
    assert.equal((await refused.json()).error.code, 'AP_ERR_ENDPOINT_KEY_INVALID');
    const scoped = await key(a.id, { models: ['sim-model'] });
    assert.equal((await post(a.url, chatBody('hi'), scoped)).status, 200);
    const other = await post(a.url, { ...chatBody('hi'), model: 'other-model' }, scoped);
    assert.equal(other.status, 403);
    assert.equal((await other.json()).error.code, 'AP_ERR_MODEL_NOT_ALLOWED');
    const short = await key(a.id, { expiresIn: 1500 });
    assert.equal((await post(a.url, chatBody('hi'), short)).status, 200);
    await until(async () => (await post(a.url, chatBody('hi'), short)).status === 401, 'the key expired', {
      timeoutMs: 5000,
    });
    const pub = await endpoint('scope-public', [r], { access: 'public' });
    assert.equal((await post(pub.url, chatBody('hi'), null)).status, 200);
  });
});
