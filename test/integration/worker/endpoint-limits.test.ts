/**
 * A key's tokens-per-minute limit held across two data-plane processes of one worker: both
 * processes serve the endpoint (SO_REUSEPORT spreads the connections), each reserves at
 * admission and settles with the engine's usage through the shared counter store, and the
 * tokens admitted within one limit window land within ±2 % of the limit. A real llm-sim replica
 * answers.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_ENDPOINT_SETTINGS, endpointCounterKeys } from '../../../src/contracts/endpoint.ts';
import { kvKeys } from '../../../src/contracts/kv-layout.ts';
import { mergeRouteHealth } from '../../../src/core/route-traffic.ts';
import { LIMIT_WINDOW_MS } from '../../../src/worker/inference/limits.ts';
import { type Sim, startSim } from '../../support/llm-sim.ts';
import { until } from '../../support/poll.ts';
import { WorkerHarness } from './harness.ts';

const TPM = 4000;
const KEY = 'apk_test-limits';

/** One completion on a fresh connection (so the kernel spreads them over both processes). */
function complete(port: number): Promise<{ status: number; tokens: number; retryAfter: string | undefined }> {
  const body = JSON.stringify({
    model: 'sim-model',
    messages: [{ role: 'user', content: 'count me' }],
    max_tokens: 40,
  });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/chat/completions',
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          authorization: `Bearer ${KEY}`,
          connection: 'close',
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          const u = json.usage;
          resolve({
            status: res.statusCode!,
            tokens: u ? u.prompt_tokens + u.completion_tokens : 0,
            retryAfter: res.headers['retry-after'] as string | undefined,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('a key tokens-per-minute limit across two data-plane processes', () => {
  let h: WorkerHarness;
  let sim: Sim;
  before(async () => {
    sim = await startSim(['--time-scale', '0.05']);
    h = await WorkerHarness.start({ mode: 'port', worker: { processes: 2 } });
  });
  after(async () => {
    await h?.close();
    await sim?.stop();
  });

  test('tokens admitted in one window are within ±2 % of the limit', async () => {
    const endpointId = 'ep-limits';
    await h.kv.put(
      kvKeys.endpointKey(endpointId, 'k1'),
      JSON.stringify({
        id: 'k1',
        endpointId,
        digest: createHash('sha256').update(KEY).digest('hex'),
        expiresAt: null,
        models: [],
        tpm: TPM,
      }),
    );
    const route = await h.addRoute({
      sessionId: null,
      endpointId,
      endpoint: { ...DEFAULT_ENDPOINT_SETTINGS },
      backends: [{ host: '127.0.0.1', port: sim.port, route: 'r0' }],
    });
    // Start at the beginning of a window, so the whole run counts against one.
    const into = Date.now() % LIMIT_WINDOW_MS;
    if (into > LIMIT_WINDOW_MS / 2) await new Promise((r) => setTimeout(r, LIMIT_WINDOW_MS - into + 50));
    const windowOf = (t: number) => Math.floor(t / LIMIT_WINDOW_MS);
    const startWindow = windowOf(Date.now());
    let admitted = 0;
    let answered = 0;
    let refused = 0;
    let retryAfter: string | undefined;
    // Demand well above the limit: 6 at a time until three rounds in a row are all refused.
    for (let quiet = 0; quiet < 3; ) {
      const round = await Promise.all(Array.from({ length: 6 }, () => complete(route.port)));
      assert.equal(windowOf(Date.now()), startWindow, 'the run stayed within one window');
      let any = false;
      for (const r of round) {
        if (r.status === 200) {
          admitted += r.tokens;
          answered++;
          any = true;
        } else {
          assert.equal(r.status, 429);
          refused++;
          retryAfter = r.retryAfter;
        }
      }
      quiet = any ? 0 : quiet + 1;
    }
    assert.ok(refused > 0);
    assert.ok(Number(retryAfter) >= 1, 'a refusal says when to retry');
    assert.ok(
      admitted >= TPM * 0.98 && admitted <= TPM * 1.02,
      `${admitted} tokens admitted for a limit of ${TPM}`,
    );

    // Each process reports its own view of the route; the manager's sum counts every answer once
    // (refusals by the key's limit never reached the route).
    const merged = await until(
      async () => {
        const keys = await h.counters.keys(endpointCounterKeys.healthReportsOf(endpointId, h.authority));
        const values = await h.counters.mget(keys);
        const m = mergeRouteHealth(values.filter((v) => v !== null).map((v) => JSON.parse(v!)));
        return m.traffic.get('r0')?.requests === answered ? m : undefined;
      },
      `both processes' reports sum to ${answered} requests`,
      { timeoutMs: 10_000 },
    );
    assert.equal(merged.health.get('r0')?.reporters, 2, 'one report per process');
    assert.equal(merged.traffic.get('r0')?.errors, 0);
  });
});
