/**
 * The manager's HTTP conventions on a real socket: every error is the envelope with its request id,
 * whatever refused the request (router, HTTP parser, handler).
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, assertEnvelope, Harness, type InjectResult } from './harness.ts';

let h: Harness;
let port: number;

/** One request over a fresh connection (node:http lets any method and path through). */
function send(
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string | Buffer; token?: string | null } = {},
): Promise<InjectResult> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== null) headers.authorization = `Bearer ${opts.token ?? ADMIN_TOKEN}`;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, body, text });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Raw bytes in, the raw answer out (until the server closes). */
function sendRaw(data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(data));
    let out = '';
    s.on('data', (d) => {
      out += d;
    });
    s.on('close', () => resolve(out));
    s.on('error', reject);
  });
}

function parseRaw(raw: string): InjectResult {
  const [head, text = ''] = raw.split('\r\n\r\n');
  const [statusLine, ...lines] = head!.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, body: JSON.parse(text), text };
}

describe('manager HTTP conventions (real socket)', () => {
  before(async () => {
    h = await Harness.create();
    await h.manager.app.listen({ host: '127.0.0.1', port: 0 });
    port = (h.manager.app.server.address() as { port: number }).port;
  });
  after(async () => {
    await h.close();
  });

  test('an 8 KiB path parameter is 414 AP_ERR_URI_TOO_LONG in the envelope', async () => {
    assertEnvelope(await send('GET', `/v1/sessions/${'a'.repeat(8192)}`), 414, 'AP_ERR_URI_TOO_LONG');
    assertEnvelope(await send('POST', `/v1/workers/${'w'.repeat(8192)}/drain`), 414, 'AP_ERR_URI_TOO_LONG');
  });

  test('a parameter too long to be valid but short of that bound is a 400 naming it', async () => {
    const r = await send('GET', `/v1/sessions/${'a'.repeat(300)}`);
    assertEnvelope(r, 400, 'AP_ERR_VALIDATION');
    assert.deepEqual(
      r.body.detail.map((d: { field: string; in: string }) => [d.field, d.in]),
      [['/id', 'params']],
    );
  });

  test('a malformed percent-encoding in the path is 400 AP_ERR_VALIDATION in the envelope', async () => {
    assertEnvelope(await send('GET', '/v1/sessions/%zz'), 400, 'AP_ERR_VALIDATION');
    assertEnvelope(await send('GET', '/v1/sessions/%E0%A4%A'), 400, 'AP_ERR_VALIDATION');
    assertEnvelope(await send('GET', '/v1/sess%zzions', { token: null }), 400, 'AP_ERR_VALIDATION');
  });

  test('a URL beyond the HTTP parser limit is 431 AP_ERR_HEADERS_TOO_LARGE in the envelope', async () => {
    assertEnvelope(await send('GET', `/v1/sessions/${'a'.repeat(20_000)}`), 431, 'AP_ERR_HEADERS_TOO_LARGE');
  });

  test('requests the HTTP parser refuses are 400 AP_ERR_BAD_REQUEST in the envelope', async () => {
    assertEnvelope(parseRaw(await sendRaw('GARBAGE\r\n\r\n')), 400, 'AP_ERR_BAD_REQUEST');
    const ambiguous =
      'POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n';
    assertEnvelope(parseRaw(await sendRaw(ambiguous)), 400, 'AP_ERR_BAD_REQUEST');
  });

  test('an unknown method on a known path is 405 AP_ERR_METHOD_NOT_ALLOWED with Allow', async () => {
    for (const [method, path, allow] of [
      ['PUT', '/v1/sessions', 'GET, HEAD, POST'],
      ['PATCH', '/v1/sessions/abc', 'GET, HEAD, DELETE'],
      ['GET', '/v1/workers/w1/drain', 'POST'],
      ['OPTIONS', '/v1/circuits/abc/access', 'PATCH'],
      ['PROPFIND', '/healthz', 'GET, HEAD'],
    ] as const) {
      const r = await send(method, path);
      assertEnvelope(r, 405, 'AP_ERR_METHOD_NOT_ALLOWED');
      assert.equal(r.headers.allow, allow, `${method} ${path}`);
      assert.deepEqual(r.body.detail, { allow: allow.split(', ') });
    }
    // No token needed to learn it (the routes are public in /openapi.json); unknown paths stay 404.
    assertEnvelope(await send('DELETE', '/v1/templates', { token: null }), 405, 'AP_ERR_METHOD_NOT_ALLOWED');
    assertEnvelope(await send('PUT', '/v1/nothing-here'), 404, 'AP_ERR_NOT_FOUND');
  });
});
