/**
 * The fast path's strict HTTP/1.1 parser: what it serves, what it hands to node:http, what it
 * refuses (the smuggling shapes of RFC 9112 §6.3 and §11.2), and — property-based — that a head
 * split anywhere parses the same, that heads it accepts round-trip their fields, and that the
 * chunked decoder (and the body reader, for every framing) gives back exactly the bytes encoded,
 * however they are cut and framed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  BodyReader,
  ChunkedDecoder,
  MAX_HEAD_BYTES,
  parseRequestHead,
  parseResponseHead,
} from '../../../src/worker/fastpath/h1-parser.ts';

const req = (s: string) => {
  const b = Buffer.from(s, 'latin1');
  return parseRequestHead(b, 0, b.length);
};

test('a plain keep-alive GET and a POST with a body are served', () => {
  const r = req('GET /lab?x=1 HTTP/1.1\r\nHost: a.example:8080\r\nCookie: a=1\r\ncookie: b=2\r\n\r\n');
  assert.equal(r.state, 'ok');
  if (r.state !== 'ok') return;
  assert.equal(r.head.fallback, null);
  assert.equal(r.head.method, 'GET');
  assert.equal(r.head.target, '/lab?x=1');
  assert.equal(r.head.host, 'a.example:8080');
  assert.equal(r.head.cookie, 'a=1; b=2');
  assert.deepEqual(r.head.body, { kind: 'none' });
  const p = req('POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello');
  assert.ok(p.state === 'ok' && p.head.body.kind === 'length' && p.head.body.length === 5 && p.head.close);
  const c = req('PUT /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n');
  assert.ok(c.state === 'ok' && c.head.body.kind === 'chunked' && c.head.fallback === null);
});

test('attack shapes are refused (400), never handed on', () => {
  const bad = [
    'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
    'GET / HTTP/1.1\nHost: a\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n',
    'GET / HTTP/1.1\r\nHost : a\r\n\r\n',
    'GET / HTTP/1.1\r\nHo\u0000st: a\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\u0001b\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\u007f\r\n\r\n',
    'GET / HTTP/1.1\r\n: empty\r\n\r\n',
    'GET  / HTTP/1.1\r\nHost: a\r\n\r\n',
    'GET / HTTP/1.1 \r\nHost: a\r\n\r\n',
    'GET /a b HTTP/1.1\r\nHost: a\r\n\r\n',
    'GET / HTTP/11\r\nHost: a\r\n\r\n',
    'G(T / HTTP/1.1\r\nHost: a\r\n\r\n',
  ];
  for (const s of bad) {
    const r = req(s);
    assert.equal(r.state, 'invalid', JSON.stringify(s));
  }
  const huge = req(`GET / HTTP/1.1\r\nHost: a\r\nX: ${'a'.repeat(MAX_HEAD_BYTES)}`);
  assert.ok(huge.state === 'invalid' && huge.status === 431);
});

test('valid messages outside the subset go to node:http', () => {
  const cases: [string, RegExp][] = [
    ['GET / HTTP/1.0\r\nHost: a\r\n\r\n', /HTTP\/1.0/],
    ['GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n', /upgrade/],
    ['POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n', /Expect/],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', /Transfer-Encoding/],
    [
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n',
      /Transfer/,
    ],
    ['GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n  folded\r\n\r\n', /obs-fold/],
    ['CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n', /method/],
    ['GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n', /target/],
    ['GET / HTTP/1.1\r\n\r\n', /Host/],
    ['\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n', /empty line/],
  ];
  for (const [s, why] of cases) {
    const r = req(s);
    assert.equal(r.state, 'ok', JSON.stringify(s));
    if (r.state === 'ok') assert.match(r.head.fallback ?? '', why, JSON.stringify(s));
  }
});

test('responses: status, framing, and what carries no body', () => {
  const res = (s: string, method = 'GET') => {
    const b = Buffer.from(s, 'latin1');
    return parseResponseHead(b, 0, b.length, method);
  };
  const ok = res('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: a\r\nSet-Cookie: b\r\n\r\nhi');
  assert.ok(ok.state === 'ok' && ok.head.status === 200 && ok.head.body.kind === 'length');
  assert.ok(ok.state === 'ok' && ok.head.headers.filter((x) => x === 'set-cookie').length === 2);
  const head = res('HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n', 'HEAD');
  assert.ok(head.state === 'ok' && head.head.body.kind === 'none');
  for (const s of [204, 304]) {
    const r = res(`HTTP/1.1 ${s} X\r\nTransfer-Encoding: chunked\r\n\r\n`);
    assert.ok(r.state === 'ok' && r.head.body.kind === 'none');
  }
  const closeDelimited = res('HTTP/1.1 200 OK\r\n\r\n');
  assert.ok(closeDelimited.state === 'ok' && closeDelimited.head.body.kind === 'close');
  const old = res('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n');
  assert.ok(old.state === 'ok' && old.head.close);
  const noReason = res('HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n');
  assert.ok(noReason.state === 'ok' && noReason.head.status === 404);
  for (const s of [
    'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
    'HTTP/2 200 OK\r\n\r\n',
    'HTTP/1.1 20 OK\r\n\r\n',
    'HTTP/1.1 200 OK\nX: y\r\n\r\n',
  ]) {
    const r = res(s);
    assert.ok(r.state === 'invalid' && r.status === 502, s);
  }
});

/** Arbitrary valid header names and values (RFC 9110 tchar / field-vchar). */
const tchar = fc.constantFrom(
  ..."!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
);
const name = fc
  .array(tchar, { minLength: 1, maxLength: 20 })
  .map((a) => a.join(''))
  .filter(
    (n) => !['host', 'content-length', 'transfer-encoding', 'expect', 'upgrade'].includes(n.toLowerCase()),
  );
const vchar = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
const value = fc.array(fc.oneof(vchar, fc.constant(' ')), { maxLength: 40 }).map((a) => a.join('').trim());

test('property: an accepted head gives back its fields, whatever the split', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(name, value), { maxLength: 20 }), fc.nat(), (fields, cut) => {
      const text = `GET /p HTTP/1.1\r\nHost: h\r\n${fields.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
      const whole = Buffer.from(text, 'latin1');
      const r = parseRequestHead(whole, 0, whole.length);
      assert.equal(r.state, 'ok');
      if (r.state !== 'ok') return;
      assert.equal(r.head.headEnd, whole.length);
      const got: string[] = [];
      for (let k = 0; k < r.head.headers.length; k += 2) {
        if (r.head.headers[k] !== 'host') got.push(`${r.head.rawNames[k >> 1]}:${r.head.headers[k + 1]}`);
      }
      assert.deepEqual(
        got,
        fields.map(([n, v]) => `${n}:${v}`),
      );
      // Any prefix is incomplete (never invalid, never ok).
      const at = cut % whole.length;
      assert.equal(parseRequestHead(whole, 0, at).state, 'incomplete');
    }),
    { numRuns: 500 },
  );
});

test('property: one bad byte anywhere in a header line makes the head invalid', () => {
  const badByte = fc.constantFrom(0, 1, 8, 10, 13, 0x7f);
  fc.assert(
    fc.property(name, value, badByte, fc.nat(), (n, v, b, pos) => {
      const line = `${n}: ${v}`;
      const at = pos % (line.length + 1);
      const broken = line.slice(0, at) + String.fromCharCode(b) + line.slice(at);
      const r = req(`GET / HTTP/1.1\r\nHost: h\r\n${broken}\r\n\r\n`);
      assert.equal(r.state, 'invalid', JSON.stringify(broken));
    }),
    { numRuns: 500 },
  );
});

/** Encodes `body` as chunks of the given sizes (with optional extensions and trailers). */
function encode(body: Buffer, sizes: number[], ext: boolean, trailers: boolean): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (const size of sizes) {
    if (at >= body.length) break;
    const n = Math.min(size, body.length - at);
    parts.push(
      Buffer.from(`${n.toString(16)}${ext ? ';a=b' : ''}\r\n`),
      body.subarray(at, at + n),
      Buffer.from('\r\n'),
    );
    at += n;
  }
  if (at < body.length) {
    const n = body.length - at;
    parts.push(Buffer.from(`${n.toString(16).toUpperCase()}\r\n`), body.subarray(at), Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`0\r\n${trailers ? 'X-T: 1\r\n' : ''}\r\n`));
  return Buffer.concat(parts);
}

test('property: the chunked decoder gives back the body exactly, however it is framed and cut', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 2000 }),
      fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 10 }),
      fc.boolean(),
      fc.boolean(),
      fc.array(fc.nat(), { maxLength: 6 }),
      fc.uint8Array({ maxLength: 20 }),
      (raw, sizes, ext, trailers, cuts, after) => {
        const body = Buffer.from(raw);
        const wire = Buffer.concat([encode(body, sizes, ext, trailers), Buffer.from(after)]);
        const end = wire.length - after.length;
        const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const dec = new ChunkedDecoder();
        const out: Buffer[] = [];
        let stoppedAt = -1;
        let from = 0;
        for (const to of [...points, wire.length]) {
          if (to < from || dec.done) continue;
          const piece = wire.subarray(from, to);
          const stop = dec.feed(piece, 0, piece.length, (a, b) =>
            out.push(Buffer.from(piece.subarray(a, b))),
          );
          assert.ok(stop >= 0, dec.error ?? '');
          if (dec.done) stoppedAt = from + stop;
          from = to;
        }
        assert.ok(dec.done);
        assert.equal(stoppedAt, end, 'stops exactly at the body end');
        assert.deepEqual(Buffer.concat(out), body);
      },
    ),
    { numRuns: 400 },
  );
});

test('property: a counted body is read exactly to its length, however it is cut; close-delimited to the end', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 3000 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      fc.uint8Array({ maxLength: 20 }),
      (raw, cuts, after) => {
        const body = Buffer.from(raw);
        const wire = Buffer.concat([body, Buffer.from(after)]);
        const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        for (const framing of [{ kind: 'length', length: body.length }, { kind: 'close' }] as const) {
          const r = new BodyReader(framing);
          const out: Buffer[] = [];
          let stoppedAt = -1;
          let from = 0;
          for (const to of [...points, wire.length]) {
            if (to < from || r.done) continue;
            const piece = wire.subarray(from, to);
            const stop = r.feed(piece, 0, piece.length, (a, b) =>
              out.push(Buffer.from(piece.subarray(a, b))),
            );
            if (r.done) stoppedAt = from + stop;
            from = to;
          }
          if (framing.kind === 'length') {
            assert.ok(r.done);
            assert.equal(stoppedAt, body.length, 'stops exactly at the body end');
            assert.deepEqual(Buffer.concat(out), body);
          } else {
            assert.ok(!r.done, 'a close-delimited body ends with the connection only');
            assert.deepEqual(Buffer.concat(out), wire);
          }
        }
      },
    ),
    { numRuns: 300 },
  );
  assert.ok(new BodyReader({ kind: 'none' }).done);
});

test('chunked bodies that lie about their sizes are refused', () => {
  const bad = [
    '5\r\nhello!\r\n0\r\n\r\n', // more data than the size
    '5\r\nhell\r\n0\r\n\r\n', // less
    'z\r\nhello\r\n0\r\n\r\n',
    '\r\n',
    '-5\r\nhello\r\n0\r\n\r\n',
    '5 \r\nhello\r\n0\r\n\r\n',
    '5\nhello\r\n0\r\n\r\n',
    '1000000000000\r\n',
    '5;a=\u0001\r\nhello\r\n0\r\n\r\n',
    '0\r\nX: y\n\r\n',
  ];
  for (const s of bad) {
    const dec = new ChunkedDecoder();
    const b = Buffer.from(s, 'latin1');
    assert.equal(
      dec.feed(b, 0, b.length, () => {}),
      -1,
      JSON.stringify(s),
    );
  }
});
