/**
 * The manager's HTTP conventions on a real socket: every error is the envelope with its request id,
 * whatever refused the request (router, HTTP parser, handler).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { BODY_LIMIT_BYTES, DRAIN_LIMIT_BYTES, DRAIN_LIMIT_MS } from '../../../src/manager/http/body.ts';
import { ADMIN_TOKEN, assertEnvelope, type InjectResult, ManagerHarness } from './harness.ts';

let h: ManagerHarness;
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

/**
 * Runs a Python script (an ordinary HTTP client: it writes the whole request before it reads the
 * answer) with PORT and TOKEN defined; resolves with its last output line and how long it ran.
 */
function python(script: string, timeoutMs = 60_000): Promise<{ out: string; ms: number }> {
  const t0 = performance.now();
  const prelude = `PORT = ${port}\nTOKEN = ${JSON.stringify(ADMIN_TOKEN)}\n`;
  return new Promise((resolve, reject) => {
    execFile('python3', ['-c', prelude + script], { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`python failed: ${err.message}\n${stderr}`));
      else resolve({ out: stdout.trim().split('\n').at(-1) ?? '', ms: performance.now() - t0 });
    });
  });
}

/** POSTs `size` bytes of JSON to /v1/sessions with http.client; prints the status or the error. */
const PY_POST = (size: number) => `
import http.client, sys
body = b'{"template": "' + b'x' * (${size} - 16) + b'"}'
c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=30)
try:
    c.request('POST', '/v1/sessions', body=body,
              headers={'Content-Type': 'application/json', 'Authorization': 'Bearer ' + TOKEN})
    r = c.getresponse()
    print(r.status, r.getheader('x-request-id'), r.read().decode())
except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected) as e:
    print('cut', type(e).__name__)
`;

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
    h = await ManagerHarness.create();
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

  test('an empty body with Content-Type: application/json is no body (DELETE, bodyless POST)', async () => {
    const json = { 'content-type': 'application/json' };
    const s = await h.runningSession();
    const del = await send('DELETE', `/v1/sessions/${s.id}`, { headers: json });
    assert.ok(del.status === 202 || del.status === 200, del.text);
    assert.equal(del.body.id, s.id);
    const drain = await send('POST', '/v1/workers/w1/drain', { headers: json });
    assert.equal(drain.status, 200, drain.text);
    assert.equal(drain.body.draining, true);
    const undrain = await send('POST', '/v1/workers/w1/undrain', {
      headers: { 'content-length': '0', ...json },
    });
    assert.equal(undrain.status, 200, undrain.text);
    assertEnvelope(
      await send('POST', '/v1/circuits/nope/tunnel-token', { headers: json }),
      404,
      'AP_ERR_CIRCUIT_NOT_FOUND',
    );
  });

  test('on a route that takes a body, an empty one is {} and validation names what is missing', async () => {
    const variants: Record<string, string>[] = [{ 'content-type': 'application/json' }, {}];
    for (const headers of variants) {
      const r = await send('POST', '/v1/sessions/nope/start-service', { headers });
      assertEnvelope(r, 400, 'AP_ERR_VALIDATION');
      assert.deepEqual(r.body.detail, [{ field: '/service', in: 'body', message: 'is required' }]);
    }
    const create = await send('POST', '/v1/sessions', { headers: { 'content-type': 'application/json' } });
    assertEnvelope(create, 400, 'AP_ERR_VALIDATION');
    assert.equal(create.body.detail[0].field, '/template');
  });

  test('a body that is not JSON is 400 AP_ERR_VALIDATION asking for JSON', async () => {
    for (const type of ['text/plain', 'application/xml', 'not a type']) {
      const r = await send('POST', '/v1/sessions', {
        headers: { 'content-type': type },
        body: '{"template":"web"}',
      });
      assertEnvelope(r, 400, 'AP_ERR_VALIDATION');
      assert.match(r.body.message, /JSON/);
    }
    const ok = await send('POST', '/v1/sessions', {
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: '{"template":"web"}',
    });
    assert.equal(ok.status, 201, ok.text);
  });

  test('an 8 MiB body: Python http.client reads 413 AP_ERR_BODY_TOO_LARGE (no broken pipe)', async () => {
    const { out } = await python(PY_POST(8 * 1024 * 1024));
    const m = /^(\d+) (\S+) (.*)$/.exec(out);
    assert.ok(m, `python saw no answer: ${out}`);
    assert.equal(m[1], '413');
    const body = JSON.parse(m[3]!);
    assert.equal(body.code, 'AP_ERR_BODY_TOO_LARGE');
    assert.equal(body.requestId, m[2]);
    assert.deepEqual(body.detail, { limitBytes: BODY_LIMIT_BYTES });
    // Just over the limit too, and the manager still answers afterwards.
    assert.match((await python(PY_POST(BODY_LIMIT_BYTES + 1))).out, /^413 /);
    assert.equal((await send('GET', '/healthz')).status, 200);
  });

  test('a body far beyond the drain bound is cut: the connection ends in bounded time', async () => {
    const { out, ms } = await python(PY_POST(BODY_LIMIT_BYTES + DRAIN_LIMIT_BYTES + 48 * 1024 * 1024));
    assert.match(out, /^(cut |413 )/);
    assert.ok(ms < DRAIN_LIMIT_MS + 10_000, `took ${ms} ms`);
    // Declared beyond the bound: refused before reading.
    const declared = await python(`
import socket
s = socket.create_connection(('127.0.0.1', PORT))
s.sendall(b'POST /v1/sessions HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: Bearer ' + TOKEN.encode() +
          b'\\r\\nContent-Type: application/json\\r\\nContent-Length: 1073741824\\r\\n\\r\\n')
s.settimeout(10)
print(s.recv(200).split(b'\\r\\n')[0].decode())
`);
    assert.equal(declared.out, 'HTTP/1.1 413 Payload Too Large');
  });

  test('an oversized body that trickles in is cut within the drain time bound', async () => {
    // Over the limit at once, then 1 KiB every 50 ms: the drain would take minutes.
    const { out, ms } = await python(`
import socket, time
s = socket.create_connection(('127.0.0.1', PORT))
s.sendall(b'POST /v1/sessions HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: Bearer ' + TOKEN.encode() +
          b'\\r\\nContent-Type: application/json\\r\\nContent-Length: ${BODY_LIMIT_BYTES + 4 * 1024 * 1024}\\r\\n\\r\\n')
s.sendall(b'x' * (${BODY_LIMIT_BYTES} + 1024))
t0 = time.monotonic()
try:
    while time.monotonic() - t0 < 60:
        s.sendall(b'x' * 1024)
        time.sleep(0.05)
    print('never cut')
except (BrokenPipeError, ConnectionResetError) as e:
    print('cut after', round(time.monotonic() - t0, 1))
`);
    assert.match(out, /^cut after /);
    assert.ok(ms < DRAIN_LIMIT_MS + 10_000, `took ${ms} ms`);
  });
});
