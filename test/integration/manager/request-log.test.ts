/**
 * The manager's request log never holds a credential from a query string: the Backend.AI
 * handshake's `/v2/proxy/auth?token=…`, an identity provider's `?code=…&state=…`.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger, redactUrl } from '../../../src/core/logger.ts';
import { buildApp } from '../../../src/manager/http/app.ts';

test('redactUrl replaces the values of credential parameters only', () => {
  assert.equal(
    redactUrl('/v2/proxy/auth?token=abc&session_id=s&app=jupyter'),
    '/v2/proxy/auth?token=[redacted]&session_id=s&app=jupyter',
  );
  assert.equal(
    redactUrl('/login/oidc/callback?code=c1&state=s1'),
    '/login/oidc/callback?code=[redacted]&state=[redacted]',
  );
  assert.equal(redactUrl('/v1/sessions?state=RUNNING&x=token=1'), '/v1/sessions?state=[redacted]&x=token=1');
  assert.equal(redactUrl('/v1/sessions'), '/v1/sessions');
});

test("the manager's request log shows the path and parameters, not the token", async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const logger = createLogger({ level: 'info', destination: sink });
  const noop = { inc() {}, observe() {} };
  const app = await buildApp({
    logger,
    metrics: { httpRequests: noop, httpDuration: noop } as never,
    auth: { authenticate: async () => ({ userId: 'admin', role: 'admin' }) } as never,
    routes: [],
  });
  await app.inject({ method: 'GET', url: '/openapi.json?token=s3cr3t-value&session_id=abc' });
  await app.close();
  const log = lines.join('');
  assert.match(log, /openapi\.json\?token=\[redacted\]&session_id=abc/);
  assert.doesNotMatch(log, /s3cr3t-value/);
});
