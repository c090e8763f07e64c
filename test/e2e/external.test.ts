/**
 * External sessions: a session that runs elsewhere, registered by its services' addresses, gets
 * circuits like any other; terminating it closes its circuits and leaves the backend alone.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CookieJar, followSetup, request } from '../support/http.ts';
import { startTestSystem, type TestSystem } from '../support/system.ts';

describe('external sessions', () => {
  let t: TestSystem;
  let backend: http.Server;
  let port: number;

  before(async () => {
    t = await startTestSystem();
    backend = http.createServer((_req, res) => res.end('external backend'));
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    port = (backend.address() as AddressInfo).port;
  });
  after(async () => {
    await t?.close();
    backend?.close();
  });

  test('registered by address: RUNNING at once, proxied, terminated without touching the backend', async () => {
    const created = await t.api('POST', '/v1/sessions', {
      name: 'pod-7',
      external: { services: [{ name: 'web', protocol: 'http', host: '127.0.0.1', port }] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.state, 'RUNNING');
    assert.equal(created.body.template, 'external');
    assert.deepEqual(created.body.services, [
      { name: 'web', protocol: 'http', backend: { host: '127.0.0.1', port } },
    ]);

    const start = await t.api('POST', `/v1/sessions/${created.body.id}/start-service`, {
      service: 'web',
      frontend: 'wildcard',
    });
    assert.equal(start.status, 200, JSON.stringify(start.body));
    const jar = new CookieJar();
    assert.equal((await followSetup(start.body.setupUrl, jar)).status, 302);
    const page = await request(start.body.appUrl, { jar });
    assert.equal(page.text, 'external backend');

    const del = await t.api('DELETE', `/v1/sessions/${created.body.id}?wait=true`);
    assert.equal(del.status, 200);
    assert.equal(del.body.state, 'TERMINATED');
    assert.equal((await request(start.body.appUrl, { jar })).status, 410);
    assert.equal((await t.api('GET', `/v1/circuits/${start.body.circuitId}`)).body.state, 'CLOSED');
    // The backend was never ours to stop.
    assert.equal((await request(`http://127.0.0.1:${port}/`)).text, 'external backend');
  });

  test('a template and an external session together, or neither, are refused', async () => {
    const both = await t.api('POST', '/v1/sessions', {
      template: 'demo',
      external: { services: [{ name: 'web', protocol: 'http', host: '127.0.0.1', port }] },
    });
    assert.equal(both.status, 400);
    assert.equal(both.body.code, 'AP_ERR_VALIDATION');
    const neither = await t.api('POST', '/v1/sessions', { name: 'x' });
    assert.equal(neither.status, 400);
    const badHost = await t.api('POST', '/v1/sessions', {
      external: { services: [{ name: 'web', protocol: 'http', host: 'http://evil/', port: 80 }] },
    });
    assert.equal(badHost.status, 400);
    assert.match(JSON.stringify(badHost.body.detail), /host/);
    const dup = await t.api('POST', '/v1/sessions', {
      external: {
        services: [
          { name: 'web', protocol: 'http', host: '127.0.0.1', port },
          { name: 'web', protocol: 'http', host: '127.0.0.1', port },
        ],
      },
    });
    assert.equal(dup.status, 400);
  });
});
