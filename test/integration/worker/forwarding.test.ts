/** The worker's trusted-proxy forwarding chain and in-place route replacement, on real sockets. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startUpstream, type Upstream } from '../../support/upstream.ts';
import { WorkerHarness } from './harness.ts';

describe('trusted proxies and route replacement', () => {
  let h: WorkerHarness;
  let other: Upstream;
  before(async () => {
    h = await WorkerHarness.start({ mode: 'wildcard', worker: { trustedProxies: ['127.0.0.0/8'] } });
    other = await startUpstream();
  });
  after(async () => {
    await h.close();
    await other.close();
  });

  test('a trusted peer keeps and extends the forwarding chain', async () => {
    const r = await h.addRoute();
    const res = await h.request(r, {
      path: '/headers',
      cookie: await h.login(r),
      headers: {
        'x-forwarded-for': '203.0.113.9',
        'x-forwarded-proto': 'https',
        forwarded: 'for=203.0.113.9',
      },
    });
    const up = JSON.parse(res.body.toString());
    assert.equal(up['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
    assert.equal(up['x-forwarded-proto'], 'https');
    assert.equal(up.forwarded, `for=203.0.113.9, for=127.0.0.1;host="${r.host}";proto=http`);
  });

  test('a put on an existing circuit replaces only that circuit', async () => {
    const r = await h.addRoute();
    const cookie = await h.login(r);
    const mark = await h.readiness(r.spec.id);
    await h.putRoute({ ...r.spec, backends: [{ host: '127.0.0.1', port: other.port }] });
    const res = await h.request(r, { path: '/headers', cookie });
    assert.equal(res.status, 200);
    assert.notEqual((await h.readiness(r.spec.id))?.at, mark?.at);
    // Served by the new backend: take the old one away and the route still answers.
    await h.upstream.close();
    assert.equal((await h.request(r, { cookie })).status, 200);
  });
});
