import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ApiClient, ApiError, NetworkError } from '../../../src/client/api-client.ts';
import { circuit, closedPortUrl, FakeManager, session, startResult } from '../../support/cli.ts';

describe('ApiClient', () => {
  let fake: FakeManager;
  before(async () => {
    fake = await new FakeManager().start();
  });
  after(() => fake.stop());

  it('sends the bearer token, JSON bodies and queries to the documented endpoints', async () => {
    fake
      .on('POST /v1/sessions', { status: 201, body: session({ state: 'PENDING' }) })
      .on('GET /v1/sessions', { body: { items: [session()] } })
      .on('POST /v1/sessions/ses_1a2b/start-service', { body: startResult() })
      .on('GET /v1/circuits', { body: { items: [circuit()] } })
      .on('DELETE /v1/sessions/ses_1a2b', { body: session({ state: 'TERMINATED' }) })
      .on('GET /v1/workers', { body: { items: [] } })
      .on('GET /v1/templates', { body: { items: [] } });
    const client = new ApiClient({ url: `${fake.url}/`, token: 'tok' });
    fake.requests.length = 0;

    assert.equal((await client.createSession({ template: 'demo', name: 'n' })).state, 'PENDING');
    assert.equal((await client.listSessions()).items.length, 1);
    assert.equal(
      (await client.startService('ses_1a2b', { service: 'web', frontend: 'port', next: '/x' })).reused,
      false,
    );
    await client.listCircuits({ sessionId: 'ses_1a2b' });
    await client.deleteSession('ses_1a2b');
    await client.deleteSession('ses_1a2b', { wait: false });
    await client.listWorkers();
    await client.listTemplates();

    assert.deepEqual(
      fake.requests.map((r) => `${r.method} ${r.url}`),
      [
        'POST /v1/sessions',
        'GET /v1/sessions',
        'POST /v1/sessions/ses_1a2b/start-service',
        'GET /v1/circuits?sessionId=ses_1a2b',
        'DELETE /v1/sessions/ses_1a2b?wait=true',
        'DELETE /v1/sessions/ses_1a2b',
        'GET /v1/workers',
        'GET /v1/templates',
      ],
    );
    assert.ok(fake.requests.every((r) => r.authorization === 'Bearer tok'));
    assert.deepEqual(fake.requests[0]!.body, { template: 'demo', name: 'n' });
    assert.deepEqual(fake.requests[2]!.body, { service: 'web', frontend: 'port', next: '/x' });
  });

  it('encodes ids in paths and keeps a base path prefix', async () => {
    fake.on('GET /prefix/v1/circuits/a%2Fb', { body: circuit({ id: 'a/b' }) });
    const c = await new ApiClient({ url: `${fake.url}/prefix` }).getCircuit('a/b');
    assert.equal(c.id, 'a/b');
    assert.equal(fake.requests.at(-1)!.authorization, undefined);
  });

  it('turns the error envelope into an ApiError', async () => {
    fake.on('POST /v1/sessions/ses_p/start-service', {
      status: 409,
      body: {
        code: 'AP_ERR_SESSION_NOT_RUNNING',
        message: 'The session is not running.',
        requestId: 'r-1',
        detail: { state: 'PENDING' },
      },
    });
    const err = await new ApiClient({ url: fake.url })
      .startService('ses_p', { service: 'web' })
      .catch((e) => e);
    assert.ok(err instanceof ApiError);
    assert.equal(err.code, 'AP_ERR_SESSION_NOT_RUNNING');
    assert.equal(err.status, 409);
    assert.equal(err.message, 'The session is not running.');
    assert.equal(err.requestId, 'r-1');
    assert.deepEqual(err.detail, { state: 'PENDING' });
  });

  it('reports answers that are not envelopes or not JSON', async () => {
    fake.on('GET /v1/circuits/html', { status: 502, raw: '<html>\n<b>Bad   gateway</b></html>' });
    fake.on('GET /v1/circuits/ok-html', { status: 200, raw: '<html>hi</html>' });
    const client = new ApiClient({ url: fake.url });
    const e1 = await client.getCircuit('html').catch((e) => e);
    assert.ok(e1 instanceof ApiError);
    assert.equal(e1.code, null);
    assert.equal(e1.status, 502);
    assert.equal(e1.message, 'HTTP 502 Bad Gateway: <html> <b>Bad gateway</b></html>');
    const e2 = await client.getCircuit('ok-html').catch((e) => e);
    assert.ok(e2 instanceof ApiError);
    assert.match(e2.message, /non-JSON answer from .*ok-html \(is this an AppProxy manager\?\)/);
  });

  it('explains an unreachable manager', async () => {
    const url = await closedPortUrl();
    const err = await new ApiClient({ url }).listSessions().catch((e) => e);
    assert.ok(err instanceof NetworkError);
    assert.equal(err.reason, 'ECONNREFUSED');
    assert.equal(
      err.message,
      `cannot reach the manager at ${url} (ECONNREFUSED) — is \`appproxy up\` running?`,
    );
  });

  it('times out a manager that does not answer', async () => {
    const silent = createServer(() => {}).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const err = await new ApiClient({ url, timeoutMs: 100 }).listSessions().catch((e) => e);
      assert.ok(err instanceof NetworkError);
      assert.equal(err.reason, 'TIMEOUT');
      assert.match(err.message, /did not answer within 100ms/);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('refuses a URL that is not http(s)', () => {
    assert.throws(() => new ApiClient({ url: 'nope' }), TypeError);
    assert.throws(() => new ApiClient({ url: 'ftp://x' }), /must be http/);
  });
});
