/**
 * An inference endpoint end to end, on the embedded system and real `llm-sim` replicas (sessions
 * of the built-in template): one stable URL whose routes change under it — a key of the endpoint
 * opens it (and only it), staged routes get nothing, weights move traffic, replacing the routes
 * moves it at once, a replica's session ending removes its route while the endpoint keeps
 * serving, and a revoked key is refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { until } from '../support/poll.ts';
import { runningSession, startTestSystem, type TestSystem } from '../support/system.ts';

interface Replica {
  id: string;
  /** Where the replica listens (its session's `api` service). */
  backend: { host: string; port: number };
}

describe('an inference endpoint over llm-sim replicas', () => {
  let t: TestSystem;
  let a: Replica;
  let b: Replica;
  before(async () => {
    t = await startTestSystem();
    const replica = async (): Promise<Replica> => {
      const s = await runningSession(t, 'llm-sim');
      return { id: s.id, backend: s.services.find((x: { name: string }) => x.name === 'api').backend };
    };
    [a, b] = await Promise.all([replica(), replica()]);
  });
  after(async () => {
    await t?.close();
  });

  /** How many completions a replica finished (its own count, from /_sim/state). */
  async function served(r: Replica): Promise<number> {
    const s = (await fetch(`http://${r.backend.host}:${r.backend.port}/_sim/state`).then((x) =>
      x.json(),
    )) as {
      counters: Record<string, number>;
    };
    return s.counters.finished ?? 0;
  }

  async function complete(url: string, key: string | null): Promise<Response> {
    return fetch(`${url}v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        ...(key ? { authorization: `Bearer ${key}` } : {}),
      },
      body: JSON.stringify({
        model: 'sim-model',
        messages: [{ role: 'user', content: 'hello' }],
        max_tokens: 4,
      }),
    });
  }

  test('a key opens the endpoint; routes and weights decide the replica; a revoked key is refused', async () => {
    const created = await t.api('POST', '/v1/endpoints', {
      name: 'chat',
      frontend: 'port',
      // No holding: without a route the endpoint answers 503 at once.
      settings: { balancing: 'weighted', hold: { timeoutMs: 0 } },
      routes: [
        { id: 'a', session: a.id, service: 'api', weight: 100 },
        { id: 'b', session: b.id, service: 'api', weight: 0 },
      ],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const ep = created.body;
    const key = (await t.api('POST', `/v1/endpoints/${ep.id}/tokens`, { name: 'ci' })).body;
    assert.match(key.key, /^apk_/);

    assert.equal((await complete(ep.url, null)).status, 401, 'no key');
    assert.equal((await complete(ep.url, 'apk_wrong')).status, 401, 'a wrong key');
    const other = await t.api('POST', '/v1/endpoints', { name: 'other', frontend: 'port' });
    const otherKey = (await t.api('POST', `/v1/endpoints/${other.body.id}/tokens`, { name: 'x' })).body.key;
    assert.equal((await complete(ep.url, otherKey)).status, 401, "another endpoint's key");

    const before = { a: await served(a), b: await served(b) };
    for (let i = 0; i < 6; i++) {
      const res = await complete(ep.url, key.key);
      const text = await res.text();
      assert.equal(res.status, 200, text);
      const body = JSON.parse(text) as { usage: { completion_tokens: number } };
      assert.equal(body.usage.completion_tokens, 4);
    }
    assert.equal((await served(a)) - before.a, 6, 'route a takes everything');
    assert.equal((await served(b)) - before.b, 0, 'staged route b takes nothing');

    // The routes change under the URL: b only, at once.
    const put = await t.api('PUT', `/v1/endpoints/${ep.id}/routes`, {
      routes: [{ id: 'b', session: b.id, service: 'api', weight: 100 }],
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    await until(
      async () => {
        const n = await served(b);
        await complete(ep.url, key.key);
        return (await served(b)) > n ? true : undefined;
      },
      'requests to reach route b',
      { timeoutMs: 5000 },
    );
    const mid = { a: await served(a), b: await served(b) };
    for (let i = 0; i < 4; i++) assert.equal((await complete(ep.url, key.key)).status, 200);
    assert.equal(await served(a), mid.a, 'the removed route a gets no new request');
    assert.equal((await served(b)) - mid.b, 4);

    // b's session ends: its route leaves; with no route left the endpoint answers 503, not a hang.
    assert.equal((await t.api('DELETE', `/v1/sessions/${b.id}?wait=true`)).status, 200);
    assert.deepEqual((await t.api('GET', `/v1/endpoints/${ep.id}`)).body.routes, []);
    const none = await until(
      async () => {
        const r = await complete(ep.url, key.key);
        return r.status === 503 ? r : undefined;
      },
      'the endpoint to answer 503 without routes',
      { timeoutMs: 5000 },
    );
    assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'AP_ERR_NO_ROUTE');

    // The key is revoked: refused as soon as the change reaches the worker.
    await t.api('PUT', `/v1/endpoints/${ep.id}/routes`, {
      routes: [{ id: 'a', session: a.id, service: 'api' }],
    });
    await until(
      async () => ((await complete(ep.url, key.key)).status === 200 ? true : undefined),
      'a again',
      {
        timeoutMs: 5000,
      },
    );
    const t0 = Date.now();
    assert.equal((await t.api('DELETE', `/v1/endpoints/${ep.id}/tokens/${key.id}`)).body.state, 'revoked');
    await until(
      async () => ((await complete(ep.url, key.key)).status === 401 ? true : undefined),
      'the key refused',
      {
        timeoutMs: 5000,
      },
    );
    console.log(`# endpoint key revoked → refused after ${Date.now() - t0} ms`);
  });
});
