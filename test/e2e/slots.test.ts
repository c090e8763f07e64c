/**
 * Slot allocation under concurrency with the real worker: 50 start-service calls at once get 50
 * distinct ports, all served; an exhausted range answers with a clear error, and closing a
 * circuit frees its slot.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { request } from '../support/http.ts';
import { runningSession, startTestSystem, type TestSystem } from '../support/system.ts';

const TINY = {
  name: 'tiny',
  description: 'A one-line HTTP server (tests)',
  services: [
    {
      name: 'web',
      protocol: 'http',
      command: [
        '{node}',
        '-e',
        "require('http').createServer((q,s)=>s.end('tiny')).listen(+process.argv[1],'127.0.0.1')",
        '{port}',
      ],
      readiness: { kind: 'http', path: '/' },
    },
  ],
};

describe('slot allocation', () => {
  let t: TestSystem;
  let sessions: any[];

  before(async () => {
    t = await startTestSystem({ agent: { templates: [TINY] } }, 50);
    sessions = [];
    // Start sessions in small batches: 50 Node processes at once would only measure the CPU.
    for (let i = 0; i < 50; i += 10) {
      sessions.push(
        ...(await Promise.all(Array.from({ length: 10 }, () => runningSession(t, 'tiny', 60_000)))),
      );
    }
  });
  after(async () => {
    await t?.close();
  });

  test('50 parallel start-service calls get 50 distinct, served slots', async () => {
    const results = await Promise.all(
      sessions.map((s) =>
        t.api('POST', `/v1/sessions/${s.id}/start-service`, { service: 'web', frontend: 'port' }),
      ),
    );
    for (const r of results) assert.equal(r.status, 200, JSON.stringify(r.body));
    const urls = new Set(results.map((r) => r.body.appUrl));
    assert.equal(urls.size, 50);
    for (const u of urls) {
      const port = Number(new URL(u).port);
      assert.ok(port >= t.portRange[0] && port <= t.portRange[1]);
    }
    // Every one of them is served by the worker right away.
    const probes = await Promise.all(
      results.map((r) => request(r.body.appUrl, { headers: { accept: 'application/json' } })),
    );
    assert.deepEqual(new Set(probes.map((p) => p.status)), new Set([401]));
  });

  test('an exhausted port range answers AP_ERR_NO_SLOT, and a closed circuit frees its port', async () => {
    const extra = await runningSession(t, 'tiny');
    const full = await t.api('POST', `/v1/sessions/${extra.id}/start-service`, {
      service: 'web',
      frontend: 'port',
    });
    assert.equal(full.status, 503);
    assert.equal(full.body.code, 'AP_ERR_NO_SLOT');
    const circuits = await t.api('GET', `/v1/circuits?sessionId=${sessions[7].id}`);
    const victim = circuits.body.items[0];
    const del = await t.api('DELETE', `/v1/circuits/${victim.id}`);
    assert.equal(del.status, 200);
    assert.equal(del.body.state, 'CLOSED');
    const again = await t.api('POST', `/v1/sessions/${extra.id}/start-service`, {
      service: 'web',
      frontend: 'port',
    });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.appUrl, victim.appUrl);
  });
});

describe('a port held by another process on the worker host', () => {
  let t: TestSystem;
  before(async () => {
    t = await startTestSystem({ agent: { templates: [TINY] } }, 10);
  });
  after(async () => {
    await t?.close();
  });

  test('costs one failed attempt: start-service opens the circuit on the next port, and later ones skip it', async () => {
    const squatter = createServer().listen(t.portRange[0], '127.0.0.1');
    await once(squatter, 'listening');
    try {
      for (let i = 0; i < 2; i++) {
        const s = await runningSession(t, 'tiny');
        const r = await t.api('POST', `/v1/sessions/${s.id}/start-service`, {
          service: 'web',
          frontend: 'port',
        });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        const port = Number(new URL(r.body.appUrl).port);
        assert.notEqual(port, t.portRange[0]);
        assert.equal((await request(r.body.appUrl, { headers: { accept: 'application/json' } })).status, 401);
      }
      // The refused attempt is on record; the second start-service did not try the port again.
      const circuits = await t.api('GET', '/v1/circuits?state=CLOSED');
      const refused = circuits.body.items.filter((c: any) =>
        /refused the route: AP_ERR_SLOT_UNAVAILABLE/.test(c.stateReason ?? ''),
      );
      assert.equal(refused.length, 1, JSON.stringify(circuits.body.items.map((c: any) => c.stateReason)));
    } finally {
      squatter.close();
    }
  });
});
