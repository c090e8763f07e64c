/**
 * Hostile text in every path parameter, query parameter and body string of the manager API: NUL
 * (which PostgreSQL refuses in text, so it once reached SQL and came back a 500), other control
 * characters, lone surrogates, whitespace and overlong values are 400 AP_ERR_VALIDATION naming the
 * parameter, and no odd input at all is a 500. Run on the embedded PGlite and on real PostgreSQL
 * (skipped only with APPPROXY_SKIP_REAL_STORES=1).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_PARAM_LENGTH } from '../../../src/manager/http/errors.ts';
import { PostgresDatabase } from '../../../src/stores/postgres/sql.ts';
import type { SqlDatabase } from '../../../src/stores/types.ts';
import { useRealServer } from '../../support/infra/real.ts';
import { startPostgres } from '../../support/infra/servers.ts';
import { freshSql } from '../../support/sql.ts';
import { assertEnvelope, type InjectResult, ManagerHarness } from './harness.ts';

/** Each must be refused by validation wherever a name, id, path or address is expected. */
const HOSTILE: [string, string][] = [
  ['NUL', '\u0000'],
  ['embedded NUL', 'a\u0000b'],
  ['BEL', 'a\u0007'],
  ['ESC sequence', '\u001b[31mred'],
  ['DEL', 'a\u007f'],
  ['C1 NEL', 'a\u0085'],
  ['lone surrogate', 'a\ud800'],
  ['newline', 'a\nb'],
  ['space', 'a b'],
  ['10k characters', 'x'.repeat(10_000)],
];

/** Odd but printable: whatever the answer, never a 500. */
const ODD = ["'; DROP TABLE users; --", 'é', '😀', '../..', '%00', '\u202eevil', 'a'.repeat(250)];

/** A path segment carrying `v` (lone surrogates have no UTF-8 form: sent as their raw bytes). */
function segment(v: string): string {
  try {
    return encodeURIComponent(v);
  } catch {
    return `${encodeURIComponent(v.replace(/[\ud800-\udfff]/g, ''))}%ED%A0%80`;
  }
}

function assertNamesField(res: InjectResult, field: string, part: string, what: string): void {
  assertEnvelope(res, 400, 'AP_ERR_VALIDATION');
  // A lone surrogate's bytes in a path do not decode: refused as a bad URL, before validation.
  if (part === 'params' && /percent-encoded/.test(res.body.message)) return;
  assert.ok(Array.isArray(res.body.detail), `${what}: no detail in ${res.text}`);
  assert.ok(
    // The field itself, or the list it is in (the service names `/access/allowFrom` for a bad entry).
    res.body.detail.some(
      (d: { field: string; in: string }) =>
        d.in === part && (d.field === field || field.startsWith(`${d.field}/`)),
    ),
    `${what}: ${JSON.stringify(res.body.detail)} does not name ${part} ${field}`,
  );
}

function suite(label: string, sql: () => Promise<SqlDatabase>): void {
  describe(`hostile input on ${label}`, () => {
    test('path and query parameters, body strings: 400 naming the parameter, never a 500', async () => {
      const h = await ManagerHarness.create({ sql: await sql() });
      try {
        const s = await h.runningSession('shell');
        const tcp = await h.api('POST', `/v1/sessions/${s.id}/start-service`, {
          service: 'ssh',
          access: { allowFrom: ['10.0.0.0/8'] },
        });
        assert.equal(tcp.status, 200, tcp.text);
        const cid = tcp.body.circuitId as string;

        const cases = (v: string): [string, string, unknown, string, string][] => {
          const e = segment(v);
          const ext = (svc: Record<string, unknown>) => ({
            external: { services: [{ name: 'web', protocol: 'http', host: 'h', port: 1, ...svc }] },
          });
          return [
            ['GET', `/v1/sessions/${e}`, undefined, '/id', 'params'],
            ['DELETE', `/v1/sessions/${e}`, undefined, '/id', 'params'],
            ['GET', `/v1/sessions/${e}/events`, undefined, '/id', 'params'],
            ['POST', `/v1/sessions/${e}/start-service`, { service: 'ssh' }, '/id', 'params'],
            ['GET', `/v1/circuits/${e}`, undefined, '/id', 'params'],
            ['DELETE', `/v1/circuits/${e}`, undefined, '/id', 'params'],
            ['GET', `/v1/circuits/${e}/activity`, undefined, '/id', 'params'],
            ['GET', `/v1/circuits/${e}/events`, undefined, '/id', 'params'],
            ['PATCH', `/v1/circuits/${e}/access`, { mode: 'tunnel' }, '/id', 'params'],
            ['POST', `/v1/circuits/${e}/tunnel-token`, undefined, '/id', 'params'],
            ['POST', `/v1/workers/${e}/drain`, undefined, '/authority', 'params'],
            ['POST', `/v1/workers/${e}/undrain`, undefined, '/authority', 'params'],
            ['GET', `/v1/sessions?state=${e}`, undefined, '/state', 'querystring'],
            ['GET', `/v1/circuits?sessionId=${e}`, undefined, '/sessionId', 'querystring'],
            ['GET', `/v1/circuits?state=${e}`, undefined, '/state', 'querystring'],
            ['DELETE', `/v1/sessions/${s.id}x?wait=${e}`, undefined, '/wait', 'querystring'],
            ['POST', '/v1/sessions', { template: v }, '/template', 'body'],
            ['POST', '/v1/sessions', { template: 'web', name: v }, '/name', 'body'],
            ['POST', '/v1/sessions', ext({ name: v }), '/external/services/0/name', 'body'],
            ['POST', '/v1/sessions', ext({ host: v }), '/external/services/0/host', 'body'],
            ['POST', `/v1/sessions/${s.id}/start-service`, { service: v }, '/service', 'body'],
            [
              'POST',
              `/v1/sessions/${s.id}/start-service`,
              { service: 'http', next: `/${v}` },
              '/next',
              'body',
            ],
            [
              'POST',
              `/v1/sessions/${s.id}/start-service`,
              { service: 'ssh', access: { allowFrom: [v] } },
              '/access/allowFrom/0',
              'body',
            ],
            ['PATCH', `/v1/circuits/${cid}/access`, { allowFrom: [v] }, '/allowFrom/0', 'body'],
          ];
        };

        for (const [what, v] of HOSTILE) {
          for (const [method, url, body, field, part] of cases(v)) {
            const r = await h.api(method, url, body);
            // A path parameter beyond the router's bound is refused before validation.
            if (part === 'params' && v.length > MAX_PARAM_LENGTH)
              assertEnvelope(r, 414, 'AP_ERR_URI_TOO_LONG');
            else assertNamesField(r, field, part, `${what}: ${method} ${url.slice(0, 60)}`);
          }
        }
        for (const v of ODD) {
          for (const [method, url, body] of cases(v)) {
            const r = await h.api(method, url, body);
            assert.ok(
              r.status < 500,
              `${JSON.stringify(v)}: ${method} ${url.slice(0, 60)} → ${r.status} ${r.text}`,
            );
          }
        }
        // What was refused changed nothing: the session, its circuit and the worker are as they were.
        assert.equal((await h.api('GET', `/v1/sessions/${s.id}`)).body.state, 'RUNNING');
        assert.deepEqual((await h.api('GET', `/v1/circuits/${cid}`)).body.access, {
          mode: 'allow-list',
          allowFrom: ['10.0.0.0/8'],
        });
        assert.equal((await h.api('GET', '/v1/workers')).body.items[0].draining, false);
      } finally {
        await h.close();
      }
    });

    test('regression: POST /v1/workers/%00/drain is 400 naming the authority (it was a 500)', async () => {
      const h = await ManagerHarness.create({ sql: await sql() });
      try {
        const r = await h.api('POST', '/v1/workers/%00/drain');
        assertEnvelope(r, 400, 'AP_ERR_VALIDATION');
        assert.deepEqual(
          r.body.detail.map((d: { field: string; in: string }) => [d.field, d.in]),
          [['/authority', 'params']],
        );
      } finally {
        await h.close();
      }
    });
  });
}

suite('PGlite', freshSql);

const pg = await useRealServer('PostgreSQL', () => startPostgres());
if (pg) {
  suite('PostgreSQL', async () => {
    const db = new PostgresDatabase({ url: await pg.createDatabase('hostile') });
    await db.migrate();
    return db;
  });
}
