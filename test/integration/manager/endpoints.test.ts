/**
 * Inference endpoints in the manager: an endpoint owns one circuit (its stable URL); its routes
 * are the circuit spec's backends with their weights, republished on every change; a session's
 * end removes its routes in the termination flow; `If-Match` guards declarative replacement; the
 * endpoint's deletion closes its circuit.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CircuitSpec } from '../../../src/contracts/circuit-spec.ts';
import { kvKeys } from '../../../src/contracts/kv-layout.ts';
import { until } from '../../support/poll.ts';
import { ADMIN_TOKEN, assertEnvelope, ManagerHarness } from './harness.ts';

describe('inference endpoints', () => {
  let h: ManagerHarness;
  before(async () => {
    h = await ManagerHarness.create();
  });
  after(async () => {
    await h.close();
  });

  async function spec(circuitId: string): Promise<CircuitSpec | null> {
    const e = await h.kv.get(kvKeys.circuit('w1', circuitId));
    return e ? (JSON.parse(e.value) as CircuitSpec) : null;
  }

  test('an endpoint has a URL at once; its routes are its circuit spec’s backends, with weights', async () => {
    const a = await h.runningSession();
    const b = await h.runningSession();
    const created = await h.api('POST', '/v1/endpoints', {
      name: 'chat',
      routes: [
        { id: 'a', session: a.id, service: 'http', weight: 100 },
        { id: 'b', session: b.id, service: 'http', weight: 0 },
      ],
    });
    assert.equal(created.status, 201, created.text);
    const ep = created.body;
    assert.match(ep.url, /^http:\/\//);
    assert.equal(ep.settings.access, 'token');
    assert.deepEqual(
      ep.routes.map((r: { id: string; state: string }) => [r.id, r.state]),
      [
        ['a', 'serving'],
        ['b', 'staged'],
      ],
    );
    const s = await spec(ep.circuitId);
    assert.equal(s?.endpointId, ep.id);
    assert.equal(s?.sessionId, null);
    assert.deepEqual(
      s?.backends.map((x) => [x.route, x.weight]),
      [
        ['a', 100],
        ['b', 0],
      ],
    );
    assert.equal(s?.endpoint?.balancing, 'least-inflight');

    // Declarative replacement, guarded by the revision.
    const stale = await h.api('PUT', `/v1/endpoints/${ep.id}/routes`, { routes: [] }, ADMIN_TOKEN, {
      'if-match': `"${ep.revision - 1}"`,
    });
    assertEnvelope(stale, 412, 'AP_ERR_REVISION_MISMATCH');
    const put = await h.api(
      'PUT',
      `/v1/endpoints/${ep.id}/routes`,
      { routes: [{ id: 'b', session: b.id, service: 'http', weight: 50 }] },
      ADMIN_TOKEN,
      { 'if-match': `"${ep.revision}"` },
    );
    assert.equal(put.status, 200, put.text);
    assert.equal(put.body.revision, ep.revision + 1);
    await until(
      async () =>
        (await spec(ep.circuitId))?.backends.map((x) => x.route).join() === 'b' ? true : undefined,
      'the spec to carry route b only',
      { timeoutMs: 5000 },
    );

    // The session behind a route ends: the route leaves the endpoint in the same flow.
    const del = await h.api('DELETE', `/v1/sessions/${b.id}?wait=true`);
    assert.ok(del.status === 200 || del.status === 202, del.text);
    await until(
      async () =>
        (await h.api('GET', `/v1/endpoints/${ep.id}`)).body.routes.length === 0 ? true : undefined,
      'the ended session’s route to be removed',
      { timeoutMs: 5000 },
    );
    assert.deepEqual((await spec(ep.circuitId))?.backends, []);

    // Deleting the endpoint closes its circuit: the spec leaves KV.
    const gone = await h.api('DELETE', `/v1/endpoints/${ep.id}`);
    assert.equal(gone.body.state, 'DELETED', gone.text);
    assert.equal(await spec(ep.circuitId), null);
    assert.equal(await h.circuitState(ep.circuitId), 'CLOSED');
    assertEnvelope(await h.api('GET', `/v1/endpoints/${ep.id}`), 404, 'AP_ERR_ENDPOINT_NOT_FOUND');
  });

  test('routes: a user may route only to their own sessions; addresses are for admins; public needs the configuration', async () => {
    const alice = await h.addUser('alice');
    const mine = await h.runningSession();
    const theirs = await h.api(
      'POST',
      '/v1/endpoints',
      { name: 'x', routes: [{ session: mine.id, service: 'http' }] },
      alice,
    );
    assertEnvelope(theirs, 404, 'AP_ERR_SESSION_NOT_FOUND');
    const addr = await h.api(
      'POST',
      '/v1/endpoints',
      { name: 'y', routes: [{ host: '10.0.0.1', port: 8000 }] },
      alice,
    );
    assertEnvelope(addr, 403, 'AP_ERR_FORBIDDEN');
    const pub = await h.api('POST', '/v1/endpoints', { name: 'z', settings: { access: 'public' } });
    assertEnvelope(pub, 403, 'AP_ERR_ACCESS_NOT_PERMITTED');
    const both = await h.api('POST', '/v1/endpoints', {
      name: 'w',
      routes: [{ session: mine.id, host: 'h', port: 1 }],
    });
    assertEnvelope(both, 400, 'AP_ERR_VALIDATION');
  });

  test('with endpoints.allowPublic an endpoint may be public', async () => {
    const open = await ManagerHarness.create({ manager: { endpoints: { allowPublic: true } } });
    try {
      const pub = await open.api('POST', '/v1/endpoints', { name: 'open', settings: { access: 'public' } });
      assert.equal(pub.status, 201, pub.text);
      assert.equal(pub.body.settings.access, 'public');
    } finally {
      await open.close();
    }
  });

  test('settings merge field by field and reach the circuit spec; conflicts are 409, not 500', async () => {
    const a = await h.runningSession();
    const created = await h.api('POST', '/v1/endpoints', {
      name: 'tuned',
      settings: { balancing: 'llm', retry: { attempts: 1 }, healthCheck: { path: '/ready' } },
      routes: [{ id: 'a', session: a.id, service: 'http' }],
    });
    assert.equal(created.status, 201, created.text);
    const ep = created.body;
    assert.equal(ep.settings.retry.attempts, 1);
    assert.equal(ep.settings.retry.bufferBytes, 1024 * 1024, 'the rest from the defaults');
    assert.equal(ep.settings.healthCheck.path, '/ready');
    assert.equal(ep.settings.healthCheck.intervalMs, 5000);
    const patched = await h.api('PATCH', `/v1/endpoints/${ep.id}`, {
      settings: { retry: { budgetPercent: 50 }, limits: { tpm: 1000 }, healthCheck: null },
    });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body.settings.retry.attempts, 1, 'kept');
    assert.equal(patched.body.settings.retry.budgetPercent, 50);
    assert.equal(patched.body.settings.limits.tpm, 1000);
    assert.equal(patched.body.settings.healthCheck, null);
    const s = await spec(ep.circuitId);
    assert.equal(s?.endpoint?.limits?.tpm, 1000);
    assert.equal(s?.endpoint?.balancing, 'llm');
    const bad = await h.api('PATCH', `/v1/endpoints/${ep.id}`, {
      settings: { healthCheck: { intervalMs: 1000, timeoutMs: 5000 } },
    });
    assert.equal(bad.status, 400, bad.text);
    const unknown = await h.api('PATCH', `/v1/endpoints/${ep.id}`, { settings: { retry: { tries: 3 } } });
    assert.equal(unknown.status, 400, unknown.text);

    const dup = await h.api('POST', `/v1/endpoints/${ep.id}/routes`, {
      id: 'a',
      session: a.id,
      service: 'http',
    });
    assert.equal(dup.status, 409, dup.text);
    await h.api('POST', '/v1/endpoints', { name: 'taken' });
    const renamed = await h.api('PATCH', `/v1/endpoints/${ep.id}`, { name: 'taken' });
    assert.equal(renamed.status, 409, renamed.text);
    assert.equal(renamed.body.code, 'AP_ERR_CONFLICT');
  });

  test("deleting an endpoint's owner ends the endpoint and revokes its keys", async () => {
    const token = await h.addUser('owner-gone');
    const ep = await h.api('POST', '/v1/endpoints', { name: 'orphan' }, token);
    assert.equal(ep.status, 201, ep.text);
    const key = await h.api('POST', `/v1/endpoints/${ep.body.id}/tokens`, { name: 'k' }, token);
    assert.equal(key.status, 201, key.text);
    assert.ok(await h.kv.get(kvKeys.endpointKey(ep.body.id, key.body.id)));
    const gone = await h.api('DELETE', '/v1/users/owner-gone');
    assert.ok(gone.status < 300, gone.text);
    const after = await h.api('GET', `/v1/endpoints/${ep.body.id}`);
    assert.equal(after.status, 404);
    assert.equal(await h.kv.get(kvKeys.endpointKey(ep.body.id, key.body.id)), undefined, 'the key left KV');
    assert.equal(await h.circuitState(ep.body.circuitId), 'CLOSED');
  });
});
