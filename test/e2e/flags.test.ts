/**
 * Feature flags on the embedded system: the registry and what it refuses; each flag changed live
 * (no restart) with its effect seen by the manager (`liveEvents`) and by a worker
 * (`logoutRevocation` for one worker, `endpointRetries`), turned back, and every change recorded
 * with who made it. How long a change takes to reach each is printed (`#` lines).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { kvKeys } from '../../src/contracts/kv-layout.ts';
import { CookieJar, followSetup, request } from '../support/http.ts';
import { type Sim, startSim } from '../support/llm-sim.ts';
import { until } from '../support/poll.ts';
import { startTestSystem, type TestSystem, waitRunning } from '../support/system.ts';

const json = { accept: 'application/json' };

describe('feature flags, changed live', () => {
  let t: TestSystem;
  let aliceId: string;
  let aliceToken: string;
  let aliceTokenId: string;

  before(async () => {
    t = await startTestSystem();
    const u = await t.api('POST', '/v1/users', { name: 'alice', password: 'alice-password-1' });
    assert.equal(u.status, 201, JSON.stringify(u.body));
    aliceId = u.body.id;
    const tok = await t.api('POST', '/v1/tokens', { name: 'alice-app', user: aliceId });
    assert.equal(tok.status, 201, JSON.stringify(tok.body));
    aliceToken = tok.body.token;
    aliceTokenId = tok.body.id;
  });
  after(async () => {
    await t?.close();
  });

  test('the registry: every flag with its default; unknown names, scopes and callers refused', async () => {
    const list = await t.api('GET', '/v1/flags');
    assert.equal(list.status, 200);
    const names = list.body.items.map((f: { name: string }) => f.name);
    for (const n of ['logoutRevocation', 'endpointRetries', 'liveEvents']) assert.ok(names.includes(n), n);
    for (const f of list.body.items) {
      assert.equal(f.value, f.default, `${f.name} is at its default`);
      assert.ok(f.description && f.when, `${f.name} says what it does and when to change it`);
    }

    const unknown = await t.api('PUT', '/v1/flags/noSuchFlag', { value: true });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'AP_ERR_FLAG_NOT_FOUND');
    assert.ok(unknown.body.detail.known.includes('liveEvents'));
    assert.equal((await t.api('GET', '/v1/flags/noSuchFlag')).body.code, 'AP_ERR_FLAG_NOT_FOUND');

    // liveEvents is a manager-wide flag: no worker scope.
    const scoped = await t.api('PUT', '/v1/flags/liveEvents', { value: false, scope: 'worker:port-1' });
    assert.equal(scoped.status, 400);
    assert.equal(scoped.body.code, 'AP_ERR_VALIDATION');
    const malformed = await t.api('PUT', '/v1/flags/logoutRevocation', { value: false, scope: 'port-1' });
    assert.equal(malformed.status, 400);
    const notBoolean = await t.api('PUT', '/v1/flags/logoutRevocation', { value: 'off' });
    assert.equal(notBoolean.status, 400);
    const unknownUser = await t.api('PUT', '/v1/flags/logoutRevocation', { value: false, scope: 'user:zed' });
    assert.equal(unknownUser.status, 400, 'logoutRevocation takes no user scope');

    assert.equal((await t.api('GET', '/v1/flags', undefined, aliceToken)).status, 403);
    assert.equal((await t.api('PUT', '/v1/flags/liveEvents', { value: false }, aliceToken)).status, 403);
    // Nothing of the refused calls changed anything.
    assert.deepEqual((await t.api('GET', '/v1/flags/changes')).body.items, []);
  });

  test('liveEvents off: open streams end and new ones get 503; unset, the stream is back; both changes recorded', async () => {
    const ac = new AbortController();
    const res = await fetch(`${t.url}/v1/events/stream`, {
      headers: { authorization: `Bearer ${t.token}` },
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    const ended = (async () => {
      for await (const _ of res.body as unknown as AsyncIterable<Uint8Array>);
      return Date.now();
    })();
    const t0 = Date.now();
    const off = await t.api('PUT', '/v1/flags/liveEvents', { value: false });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    assert.equal(off.body.value, false);
    const endedAt = await Promise.race([
      ended,
      new Promise<number>((_, reject) =>
        setTimeout(() => reject(new Error('the open stream went on')), 10_000),
      ),
    ]);
    console.log(`# liveEvents off → the manager ended the open stream ${endedAt - t0} ms after the PUT`);
    const refused = await t.api('GET', '/v1/events/stream');
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, 'AP_ERR_FEATURE_DISABLED');
    assert.equal(refused.body.detail.flag, 'liveEvents');

    const unset = await t.api('DELETE', '/v1/flags/liveEvents');
    assert.equal(unset.status, 200);
    assert.equal(unset.body.value, true, 'back to its default');
    const again = await fetch(`${t.url}/v1/events/stream`, {
      headers: { authorization: `Bearer ${t.token}` },
    });
    assert.equal(again.status, 200);
    await again.body?.cancel();

    const changes = await t.api('GET', '/v1/flags/changes?name=liveEvents');
    assert.deepEqual(
      changes.body.items.map((c: any) => [c.scope, c.previous, c.value, c.byName]),
      [
        ['global', null, false, 'admin'],
        ['global', false, null, 'admin'],
      ],
    );
    ac.abort();
  });

  test('logoutRevocation off for one worker: a revoked cookie works there again; back on, refused at once', async () => {
    const created = await t.api('POST', '/v1/sessions', { template: 'demo' }, aliceToken);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const s = await waitRunning(t, created.body.id);
    const start = await t.api(
      'POST',
      `/v1/sessions/${s.id}/start-service`,
      { service: 'web', frontend: 'port' },
      aliceToken,
    );
    assert.equal(start.status, 200, JSON.stringify(start.body));
    const jar = new CookieJar();
    assert.equal((await followSetup(start.body.setupUrl, jar)).status, 302);
    const app = () => request(start.body.appUrl, { jar, headers: json });
    assert.equal((await app()).status, 200);

    assert.equal((await t.api('DELETE', `/v1/tokens/${aliceTokenId}`)).status, 200);
    await until(async () => (await app()).status === 401, 'the cookie refused once the token is revoked', {
      timeoutMs: 10_000,
    });
    assert.equal(JSON.parse((await app()).text).code, 'AP_ERR_APP_COOKIE_REVOKED');

    let t0 = Date.now();
    const off = await t.api('PUT', '/v1/flags/logoutRevocation', { value: false, scope: 'worker:port-1' });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    assert.equal(off.body.value, true, 'globally still on');
    assert.deepEqual(
      off.body.overrides.map((o: any) => [o.scope, o.value]),
      [['worker:port-1', false]],
    );
    await until(async () => (await app()).status === 200, 'the worker to stop enforcing revocations', {
      timeoutMs: 10_000,
      intervalMs: 10,
    });
    console.log(
      `# logoutRevocation off for port-1 → the worker served the revoked cookie ${Date.now() - t0} ms after the PUT`,
    );

    t0 = Date.now();
    assert.equal((await t.api('DELETE', '/v1/flags/logoutRevocation?scope=worker:port-1')).status, 200);
    await until(async () => (await app()).status === 401, 'the worker to enforce revocations again', {
      timeoutMs: 10_000,
      intervalMs: 10,
    });
    console.log(
      `# logoutRevocation back on → the worker refused the cookie ${Date.now() - t0} ms after the DELETE`,
    );
  });

  test('the reconciler rewrites an override record KV lost, and drops one SQL does not hold', async () => {
    assert.equal((await t.api('PUT', '/v1/flags/endpointRetries', { value: false })).status, 200);
    const kv = t.sys.stores.kv;
    const lost = kvKeys.flagOverride('endpointRetries', 'global');
    const stray = kvKeys.flagOverride('liveEvents', 'global');
    assert.deepEqual(JSON.parse((await kv.get(lost))!.value), { value: false });
    await kv.delete(lost);
    await kv.put(stray, JSON.stringify({ value: false }));
    const repairs = await t.sys.manager.reconcile();
    assert.deepEqual(
      repairs
        .filter((r) => r.kind === 'flag-stale')
        .map((r) => r.subject)
        .sort(),
      ['flag/endpointRetries/global', 'flag/liveEvents/global'],
    );
    assert.deepEqual(JSON.parse((await kv.get(lost))!.value), { value: false });
    assert.equal(await kv.get(stray), undefined);
    assert.equal((await t.api('DELETE', '/v1/flags/endpointRetries')).status, 200);
    assert.equal(await kv.get(lost), undefined, 'an unset removes its record');
    assert.deepEqual(
      (await t.sys.manager.reconcile()).filter((r) => r.kind === 'flag-stale'),
      [],
      'nothing left to repair',
    );
  });

  test('two scopes of one flag changed at once both land; each worker applies the one for it', async () => {
    const [a, b] = await Promise.all([
      t.api('PUT', '/v1/flags/endpointRetries', { value: false, scope: 'worker:port-1' }),
      t.api('PUT', '/v1/flags/endpointRetries', { value: false, scope: 'worker:wildcard-1' }),
    ]);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    const flag = await t.api('GET', '/v1/flags/endpointRetries');
    assert.deepEqual(flag.body.overrides.map((o: any) => o.scope).sort(), [
      'worker:port-1',
      'worker:wildcard-1',
    ]);
    // The embedded system's workers, in the configuration's order.
    const names = ['port-1', 'wildcard-1'];
    for (const [i, w] of t.sys.workers.entries())
      await until(
        async () => (await w.readiness()).flags.endpointRetries === false,
        `${names[i]} applies it`,
        {
          timeoutMs: 5000,
        },
      );
    await t.api('PUT', '/v1/flags/endpointRetries', { value: true, scope: 'worker:wildcard-1' });
    const byWorker = async () =>
      Object.fromEntries(
        await Promise.all(
          t.sys.workers.map(async (w, i) => [names[i], (await w.readiness()).flags.endpointRetries]),
        ),
      );
    await until(async () => (await byWorker())['wildcard-1'] === true || undefined, 'wildcard-1 back on', {
      timeoutMs: 5000,
    });
    assert.deepEqual(await byWorker(), { 'port-1': false, 'wildcard-1': true });
    await t.api('DELETE', '/v1/flags/endpointRetries?scope=worker:port-1');
    await t.api('DELETE', '/v1/flags/endpointRetries?scope=worker:wildcard-1');
    await until(
      async () => Object.values(await byWorker()).every(Boolean) || undefined,
      'both at the default',
      {
        timeoutMs: 5000,
      },
    );
  });

  test('endpointRetries off: a request that failed on one route is no longer replayed on another', async () => {
    let sim: Sim | null = null;
    try {
      sim = await startSim(['--time-scale', '0']);
      // A route nothing listens on (never ejected here: passive health would otherwise hide it).
      const ep = await t.api('POST', '/v1/endpoints', {
        name: 'retries',
        frontend: 'port',
        settings: { passive: { consecutiveFailures: 1000 }, balancing: 'round-robin' },
        routes: [
          { id: 'dead', host: '127.0.0.1', port: 9 },
          { id: 'live', host: '127.0.0.1', port: sim.port },
        ],
      });
      assert.equal(ep.status, 201, JSON.stringify(ep.body));
      const key = (await t.api('POST', `/v1/endpoints/${ep.body.id}/tokens`, { name: 'k' })).body.key;
      const ask = async () =>
        (
          await fetch(`${ep.body.url}v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
            body: JSON.stringify({
              model: 'sim-model',
              messages: [{ role: 'user', content: 'hi' }],
              max_tokens: 2,
            }),
          })
        ).status;
      // One at a time: the retry budget (a share of the requests in flight) never limits them.
      const statuses = async () => {
        const out: number[] = [];
        for (let i = 0; i < 8; i++) out.push(await ask());
        return out;
      };
      assert.deepEqual(new Set(await statuses()), new Set([200]), 'every failure replayed on the live route');

      assert.equal((await t.api('PUT', '/v1/flags/endpointRetries', { value: false })).status, 200);
      const failed = await until(
        async () => {
          const s = await statuses();
          return s.some((x) => x !== 200) ? s : undefined;
        },
        'a request to the dead route answered without a replay',
        { timeoutMs: 10_000 },
      );
      assert.ok(failed.includes(200), 'the live route still answers');
      assert.ok(
        failed.every((x) => x === 200 || x === 502 || x === 503),
        `failures are the route's: ${failed.join(', ')}`,
      );
      assert.equal((await t.api('DELETE', '/v1/flags/endpointRetries')).status, 200);
      await until(async () => (await statuses()).every((x) => x === 200) || undefined, 'replays again', {
        timeoutMs: 10_000,
      });
    } finally {
      await sim?.stop();
    }
  });
});
