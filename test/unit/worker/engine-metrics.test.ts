import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EngineScraper, PaceMeter, parseEngineMetrics } from '../../../src/worker/upstream/engine-metrics.ts';
import { startSim } from '../../support/llm-sim.ts';
import { until } from '../../support/poll.ts';

/** A page as llm-sim renders it (src/agent/apps/llm-sim/metrics.mjs: vLLM's names and layout). */
const VLLM_PAGE = `# HELP vllm:num_requests_running Requests in the running set.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="sim-model"} 3
# HELP vllm:num_requests_waiting Requests waiting to be admitted.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="sim-model"} 2
# HELP vllm:kv_cache_usage_perc Fraction of KV blocks held by requests (1 = full).
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{model_name="sim-model"} 0.4375
# HELP vllm:cache_config_info KV cache configuration.
# TYPE vllm:cache_config_info gauge
vllm:cache_config_info{block_size="16",num_gpu_blocks="1024",enable_prefix_caching="True"} 1
# HELP vllm:prefix_cache_queries_total Prompt tokens looked up in the prefix cache.
# TYPE vllm:prefix_cache_queries_total counter
vllm:prefix_cache_queries_total{model_name="sim-model"} 5120
# HELP vllm:time_to_first_token_seconds Time from arrival to the first token (wall clock).
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{model_name="sim-model",le="0.001"} 0
vllm:time_to_first_token_seconds_bucket{model_name="sim-model",le="+Inf"} 12
vllm:time_to_first_token_seconds_sum{model_name="sim-model"} 3.25
vllm:time_to_first_token_seconds_count{model_name="sim-model"} 12
# HELP vllm:inter_token_latency_seconds Time between two tokens of a request (wall clock).
# TYPE vllm:inter_token_latency_seconds histogram
vllm:inter_token_latency_seconds_bucket{model_name="sim-model",le="0.01"} 150
vllm:inter_token_latency_seconds_bucket{model_name="sim-model",le="+Inf"} 300
vllm:inter_token_latency_seconds_sum{model_name="sim-model"} 4.5
vllm:inter_token_latency_seconds_count{model_name="sim-model"} 300
# HELP vllm:time_per_output_token_seconds Deprecated: the same samples under the old name.
# TYPE vllm:time_per_output_token_seconds histogram
vllm:time_per_output_token_seconds_sum{model_name="sim-model"} 4.5
vllm:time_per_output_token_seconds_count{model_name="sim-model"} 300
# HELP llmsim_steps_total Engine steps executed.
# TYPE llmsim_steps_total counter
llmsim_steps_total{model_name="sim-model"} 800
`;

/** SGLang's layout (docs/references/production_metrics.md): floats, `le` first, a gauge per line. */
const SGLANG_PAGE = `# HELP sglang:prompt_tokens_total Number of prefill tokens processed.
# TYPE sglang:prompt_tokens_total counter
sglang:prompt_tokens_total{model_name="meta-llama/Llama-3.1-8B-Instruct"} 8.128902e+06
# HELP sglang:max_total_num_tokens Maximum total number of tokens
# TYPE sglang:max_total_num_tokens gauge
sglang:max_total_num_tokens{model_name="meta-llama/Llama-3.1-8B-Instruct"} 161721.0
# HELP sglang:token_usage The token usage
# TYPE sglang:token_usage gauge
sglang:token_usage{model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.28
# HELP sglang:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE sglang:time_to_first_token_seconds histogram
sglang:time_to_first_token_seconds_bucket{le="0.001",model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.0
sglang:time_to_first_token_seconds_count{model_name="meta-llama/Llama-3.1-8B-Instruct"} 11008.0
# HELP sglang:time_per_output_token_seconds Histogram of time per output token in seconds.
# TYPE sglang:time_per_output_token_seconds histogram
sglang:time_per_output_token_seconds_sum{model_name="meta-llama/Llama-3.1-8B-Instruct"} 2.0e+01
sglang:time_per_output_token_seconds_count{model_name="meta-llama/Llama-3.1-8B-Instruct"} 1000.0
# HELP sglang:num_running_reqs The number of running requests
# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{model_name="meta-llama/Llama-3.1-8B-Instruct"} 162.0
# HELP sglang:num_queue_reqs The number of requests in the waiting queue
# TYPE sglang:num_queue_reqs gauge
sglang:num_queue_reqs{model_name="meta-llama/Llama-3.1-8B-Instruct"} 2826.0
`;

test('parseEngineMetrics: a vLLM page (llm-sim layout)', () => {
  assert.deepEqual(parseEngineMetrics(VLLM_PAGE), {
    waiting: 2,
    running: 3,
    kvUsage: 0.4375,
    cacheTokens: 16 * 1024,
    // The current name wins; the deprecated one with the same samples is not added to it.
    itl: { sumS: 4.5, count: 300 },
  });
});

test('parseEngineMetrics: an SGLang page', () => {
  assert.deepEqual(parseEngineMetrics(SGLANG_PAGE), {
    waiting: 2826,
    running: 162,
    kvUsage: 0.28,
    cacheTokens: 161721,
    itl: { sumS: 20, count: 1000 },
  });
});

test('parseEngineMetrics: several series are summed (queues) or maxed (KV usage); older vLLM names', () => {
  const page = [
    'vllm:num_requests_waiting{model_name="a",engine="0"} 1',
    'vllm:num_requests_waiting{model_name="a",engine="1"} 4',
    'vllm:num_requests_waiting{model_name="b"} 2',
    'vllm:num_requests_running{model_name="a",engine="0"} 7',
    'vllm:num_requests_running{model_name="a",engine="1"} 1',
    'vllm:gpu_cache_usage_perc{model_name="a",engine="0"} 0.9',
    'vllm:gpu_cache_usage_perc{model_name="a",engine="1"} 0.2',
    'vllm:cache_config_info{block_size="16",num_gpu_blocks="100"} 1',
    'vllm:cache_config_info{block_size="16",num_gpu_blocks="50"} 1',
    'vllm:time_per_output_token_seconds_sum{model_name="a",engine="0"} 1.5',
    'vllm:time_per_output_token_seconds_count{model_name="a",engine="0"} 100',
    'vllm:time_per_output_token_seconds_sum{model_name="a",engine="1"} 0.5',
    'vllm:time_per_output_token_seconds_count{model_name="a",engine="1"} 60',
  ].join('\n');
  assert.deepEqual(parseEngineMetrics(page), {
    waiting: 7,
    running: 8,
    kvUsage: 0.9,
    cacheTokens: 2400,
    itl: { sumS: 2, count: 160 },
  });
});

test('parseEngineMetrics: tolerates comments, timestamps, NaN, odd spacing, CRLF, escapes and garbage', () => {
  const page = [
    '# a comment mentioning vllm:num_requests_waiting 99',
    '# HELP vllm:num_requests_waiting waiting',
    '# TYPE vllm:num_requests_waiting gauge',
    '',
    'garbage line without a value',
    'vllm:num_requests_waiting{model_name="odd } value, with \\"quotes\\" and \\\\ slashes"} 3 1712345678000',
    '   vllm:num_requests_running  2\r',
    'vllm:num_requests_running{model_name="x"} NaN',
    'vllm:num_requests_running{model_name="y"} +Inf',
    'vllm:num_requests_running{model_name="z"} -1',
    'vllm:num_requests_running{model_name="broken"',
    'vllm:num_requests_running{model_name="novalue"}',
    'vllm:num_requests_waiting_total 50',
    'vllm:num_requests_waitingX 50',
    'vllm:kv_cache_usage_perc 1.7',
    'sglang:num_queue_reqs{model_name="m"} 1e1',
    '{not a metric} 4',
    '\u0000\u0001 binary',
  ].join('\n');
  assert.deepEqual(parseEngineMetrics(page), {
    waiting: 13,
    running: 2,
    kvUsage: 1,
    cacheTokens: null,
    itl: null,
  });
  // Labels with escaped quotes do not end early: the value after them is read.
  assert.equal(parseEngineMetrics('vllm:num_requests_running{a="\\"}"} 5')!.running, 5);
  // A missing KV series reads as no pressure.
  assert.deepEqual(parseEngineMetrics('sglang:num_running_reqs 1'), {
    waiting: 0,
    running: 1,
    kvUsage: 0,
    cacheTokens: null,
    itl: null,
  });
});

test('PaceMeter: ms per token over the tokens since the last pace; kept through idleness; restarts', () => {
  const p = new PaceMeter();
  const near = (v: number | null, want: number, msg: string) =>
    assert.ok(v !== null && Math.abs(v - want) < 1e-6, `${msg}: ${v}`);
  assert.equal(p.read({ sumS: 1, count: 100 }), null, 'one reading is no pace');
  assert.equal(p.read({ sumS: 1.03, count: 103 }), null, 'three tokens are too few');
  near(p.read({ sumS: 1.1, count: 110 }), 10, '0.1 s over 10 tokens');
  near(p.read({ sumS: 1.1, count: 110 }), 10, 'idle: the last pace stands');
  near(p.read({ sumS: 1.4, count: 120 }), 30, 'a slower engine shows within one reading');
  assert.equal(p.read({ sumS: 0.01, count: 2 }), null, 'counters went back: the engine restarted');
  near(p.read({ sumS: 0.11, count: 12 }), 10, 'paced again after the restart');
  assert.equal(p.read(null), null, 'the page lost its histogram');
});

test('parseEngineMetrics: null for pages that are not an engine', () => {
  for (const page of [
    '',
    '\n\n',
    '# HELP process_cpu_seconds_total CPU\nprocess_cpu_seconds_total 12.5\n',
    'vllm:cache_config_info{block_size="16",num_gpu_blocks="8"} 1',
    'vllm:num_requests_waiting NaN',
    '<html><body>not found</body></html>',
  ])
    assert.equal(parseEngineMetrics(page), null, JSON.stringify(page));
});

// ---------------------------------------------------------------------------------------------
// The scraper, against real loopback servers.

interface TestServer {
  server: Server;
  port: number;
  requests: number;
  inFlight: number;
  maxInFlight: number;
  firstAt: number;
  close(): Promise<void>;
}

async function serve(
  handler: (req: IncomingMessage, res: ServerResponse, s: TestServer) => void,
): Promise<TestServer> {
  const server = createServer();
  const s: TestServer = {
    server,
    port: 0,
    requests: 0,
    inFlight: 0,
    maxInFlight: 0,
    firstAt: 0,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('request', (req, res) => {
    s.requests++;
    if (s.firstAt === 0) s.firstAt = performance.now();
    s.inFlight++;
    s.maxInFlight = Math.max(s.maxInFlight, s.inFlight);
    res.on('close', () => s.inFlight--);
    handler(req, res, s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  s.port = (server.address() as AddressInfo).port;
  return s;
}

const page = (waiting: number, running = 1, kv = 0.5) =>
  `vllm:num_requests_waiting ${waiting}\nvllm:num_requests_running ${running}\nvllm:kv_cache_usage_perc ${kv}\n`;

function scraper(opts: Partial<ConstructorParameters<typeof EngineScraper>[0]> = {}): EngineScraper {
  return new EngineScraper({
    path: '/metrics',
    intervalMs: 25,
    timeoutMs: 300,
    staleMs: 5_000,
    random: () => 0,
    ...opts,
  });
}

test('scraper: reads each target; keeps kept targets, drops removed ones, restarts moved ones', async (t) => {
  const a = await serve((req, res) => {
    assert.equal(req.url, '/metrics');
    res.end(page(1));
  });
  const b = await serve((_req, res) => res.end(page(2, 5, 0.25)));
  const heard: string[] = [];
  const s = scraper({
    onReading: (key, r) => {
      heard.push(`${key}:${r.waiting}`);
      throw new Error('a failing listener does not stop scraping');
    },
  });
  t.after(async () => {
    s.close();
    await a.close();
    await b.close();
  });
  assert.equal(s.signals('a'), null, 'never scraped');
  assert.equal(s.latest('a'), null);
  s.setTargets([
    { key: 'a', host: '127.0.0.1', port: a.port },
    { key: 'b', host: '127.0.0.1', port: b.port },
  ]);
  const ra = await until(() => s.signals('a') ?? undefined, 'a read', { timeoutMs: 5000 });
  const rb = await until(() => s.signals('b') ?? undefined, 'b read', { timeoutMs: 5000 });
  assert.equal(ra.waiting, 1);
  assert.deepEqual(
    { ...rb, at: 0 },
    { waiting: 2, running: 5, kvUsage: 0.25, cacheTokens: null, itl: null, at: 0, msPerToken: null },
  );
  assert.ok(Math.abs(rb.at - performance.now()) < 5_000, 'at is on the performance.now() clock');
  assert.equal(s.latest('b'), s.signals('b'));
  assert.ok(heard.includes('a:1') && heard.includes('b:2'), String(heard));
  // Same list plus one, minus b: a keeps its reading at once, b is gone, c (b's server) starts.
  s.setTargets([
    { key: 'a', host: '127.0.0.1', port: a.port },
    { key: 'c', host: '127.0.0.1', port: b.port },
  ]);
  assert.ok(s.signals('a') !== null, 'a kept its reading');
  assert.equal(s.signals('b'), null, 'b removed');
  assert.deepEqual(s.keys.sort(), ['a', 'c']);
  await until(() => s.signals('c')?.waiting === 2, 'c read', { timeoutMs: 5000 });
  // A key whose address changes starts over (no reading from the old engine).
  s.setTargets([
    { key: 'a', host: '127.0.0.1', port: b.port },
    { key: 'c', host: '127.0.0.1', port: b.port },
  ]);
  assert.equal(s.signals('a'), null);
  await until(() => s.signals('a')?.waiting === 2, 'a read from its new address', { timeoutMs: 5000 });
  assert.ok(s.counts.ok >= 4);
});

test('scraper: one scrape in flight per target, each started an interval after the last; the first one jittered', async (t) => {
  const slow = await serve((_req, res) => {
    setTimeout(() => res.end(page(0)), 120);
  });
  const s = scraper({ intervalMs: 20, timeoutMs: 1_000, random: () => 0.5 });
  t.after(async () => {
    s.close();
    await slow.close();
  });
  const t0 = performance.now();
  s.setTargets([{ key: 'x', host: '127.0.0.1', port: slow.port }]);
  await until(() => slow.requests >= 4, 'four scrapes', { timeoutMs: 5000 });
  assert.ok(slow.firstAt - t0 >= 8, `first scrape jittered by half an interval (${slow.firstAt - t0} ms)`);
  assert.equal(slow.maxInFlight, 1, 'scrapes of one target never overlap');
  assert.equal(s.counts.failed, 0);
});

test('scraper: a server that never answers (or trickles) fails the scrape within timeoutMs; scraping goes on', async (t) => {
  let mode: 'hang' | 'trickle' | 'ok' = 'hang';
  const held: ServerResponse[] = [];
  const srv = await serve((_req, res) => {
    if (mode === 'hang') held.push(res);
    else if (mode === 'trickle') {
      res.writeHead(200);
      // A byte every 50 ms: each within the idle timers, the whole page never within the budget.
      const timer = setInterval(() => res.write('#'), 50);
      res.on('close', () => clearInterval(timer));
    } else res.end(page(3));
  });
  const s = scraper({ intervalMs: 20, timeoutMs: 150 });
  t.after(async () => {
    s.close();
    for (const r of held) r.destroy();
    await srv.close();
  });
  const t0 = performance.now();
  s.setTargets([{ key: 'x', host: '127.0.0.1', port: srv.port }]);
  await until(() => s.counts.failed >= 2, 'two timeouts', { timeoutMs: 5000 });
  assert.ok(performance.now() - t0 < 2_000);
  assert.equal(s.signals('x'), null);
  mode = 'trickle';
  const failed = s.counts.failed;
  await until(() => s.counts.failed >= failed + 2, 'trickled pages time out', { timeoutMs: 5000 });
  assert.equal(s.signals('x'), null);
  mode = 'ok';
  await until(() => s.signals('x')?.waiting === 3, 'a reading once it answers', { timeoutMs: 5000 });
});

test('scraper: a server that dies — the last reading ages out, then null', async (t) => {
  let clock = 1_000;
  const srv = await serve((_req, res) => res.end(page(4)));
  const s = scraper({ now: () => clock, staleMs: 500 });
  t.after(async () => {
    s.close();
    await srv.close();
  });
  s.setTargets([{ key: 'x', host: '127.0.0.1', port: srv.port }]);
  const r = await until(() => s.signals('x') ?? undefined, 'read', { timeoutMs: 5000 });
  assert.equal(r.at, 1_000, 'at is on the given clock');
  await srv.close();
  const failed = s.counts.failed;
  await until(() => s.counts.failed > failed + 1, 'scrapes fail (connection refused)', { timeoutMs: 5000 });
  clock += 400;
  assert.equal(s.signals('x')?.waiting, 4, 'still fresh: one lost page does not blind the picker');
  clock += 200;
  assert.equal(s.signals('x'), null, 'stale');
  assert.equal(s.latest('x')?.waiting, 4, 'latest() does not judge age (the picker does)');
});

test('scraper: oversized, non-200 and non-engine pages fail and leave no reading', async (t) => {
  let body = 'x'.repeat(5_000);
  let status = 200;
  const srv = await serve((_req, res) => {
    res.writeHead(status);
    res.end(body);
  });
  const s = scraper({ maxBytes: 1_000 });
  t.after(async () => {
    s.close();
    await srv.close();
  });
  s.setTargets([{ key: 'x', host: '127.0.0.1', port: srv.port }]);
  await until(() => s.counts.failed >= 2, 'oversized pages fail', { timeoutMs: 5000 });
  body = page(1);
  status = 503;
  let failed = s.counts.failed;
  await until(() => s.counts.failed >= failed + 2, '503s fail', { timeoutMs: 5000 });
  status = 200;
  body = '<html>hello</html>';
  failed = s.counts.failed;
  await until(() => s.counts.failed >= failed + 2, 'non-engine pages fail', { timeoutMs: 5000 });
  assert.equal(s.signals('x'), null);
  assert.equal(s.counts.ok, 0);
  // A big page under the bound is fine (sent in several chunks).
  body = `${'# padding\n'.repeat(80)}${page(6)}`;
  await until(() => s.signals('x')?.waiting === 6, 'read', { timeoutMs: 5000 });
});

test('scraper: close stops scraping (idempotent), and setTargets after close does nothing', async () => {
  const srv = await serve((_req, res) => res.end(page(1)));
  const s = scraper({ intervalMs: 10 });
  s.setTargets([{ key: 'x', host: '127.0.0.1', port: srv.port }]);
  await until(() => srv.requests >= 3, 'scraping', { timeoutMs: 5000 });
  s.close();
  s.close();
  s.setTargets([{ key: 'y', host: '127.0.0.1', port: srv.port }]);
  await sleep(50);
  const n = srv.requests;
  await sleep(150);
  assert.equal(srv.requests, n, 'no scrape after close');
  assert.equal(s.signals('x'), null);
  await srv.close();
});

test('scraper against llm-sim: its page, its load as it changes, a hung engine, a crash', async (t) => {
  // Slow steps (200 ms each) so that a request stays in the engine long enough to be seen.
  const sim = await startSim(['--num-blocks', '512', '--t0-ms', '200']);
  const s = scraper({ intervalMs: 30, timeoutMs: 300, staleMs: 800 });
  const ac = new AbortController();
  t.after(async () => {
    ac.abort();
    s.close();
    await sim.stop();
  });
  assert.deepEqual(parseEngineMetrics(await sim.metricsText()), {
    waiting: 0,
    running: 0,
    kvUsage: 0,
    cacheTokens: 512 * 16,
    itl: { sumS: 0, count: 0 },
  });
  s.setTargets([{ key: 'sim', host: '127.0.0.1', port: sim.port }]);
  await until(() => s.signals('sim') ?? undefined, 'first reading', { timeoutMs: 5000 });
  // One streaming request in the engine: the next readings show it.
  const res = await sim.post(
    '/v1/chat/completions',
    { messages: [{ role: 'user', content: 'x'.repeat(400) }], max_tokens: 1000, stream: true },
    { signal: ac.signal },
  );
  assert.equal(res.status, 200);
  const busy = await until(
    () => {
      const r = s.signals('sim');
      return r !== null && r.running + r.waiting >= 1 && r.kvUsage > 0 ? r : undefined;
    },
    'a reading with the request in it',
    { timeoutMs: 5000 },
  );
  assert.ok(busy.kvUsage <= 1);
  // Its tokens, one per 200 ms step, give the engine's pace while the stream is still going.
  const paced = await until(() => s.signals('sim')?.msPerToken ?? undefined, 'a pace', { timeoutMs: 8000 });
  assert.ok(paced >= 190 && paced < 400, `ms per token ${paced}`);
  ac.abort();
  // A hung engine holds /metrics too: scrapes time out, the reading goes stale.
  await sim.fault({ kind: 'hang' });
  const failed = s.counts.failed;
  await until(() => s.counts.failed >= failed + 2, 'scrapes of a hung engine time out', { timeoutMs: 5000 });
  await until(() => s.signals('sim') === null, 'stale', { timeoutMs: 5000 });
  await sim.fault({ kind: 'clear' });
  await until(() => s.signals('sim') ?? undefined, 'readings again', { timeoutMs: 5000 });
  // Crash: connection refused from then on.
  await sim.fault({ kind: 'crash' }).catch(() => {});
  await sim.exited;
  await until(() => s.signals('sim') === null, 'stale after the crash', { timeoutMs: 5000 });
});
