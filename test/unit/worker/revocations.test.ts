/**
 * The worker's revocation set on its own: each kind of record and its `at` semantics, expiry,
 * revision ordering (a slow re-read never undoes a newer event), fail-closed staleness, listeners
 * and replication; the app cookie's binding to a grant; the registry ending the connections a
 * record matches.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import type { Credential, Grant, RevocationRecord } from '../../../src/contracts/auth.ts';
import type { CloseReason } from '../../../src/contracts/records.ts';
import { AppCookies, verifyRequest } from '../../../src/worker/access/app-cookie.ts';
import { type RevocationOp, RevocationSet, UNCONFIRMED } from '../../../src/worker/access/revocations.ts';
import { Connection } from '../../../src/worker/connections/connection.ts';
import { ConnectionRegistry } from '../../../src/worker/connections/registry.ts';
import type { AccessLog } from '../../../src/worker/observe/access-log.ts';
import type { Circuit } from '../../../src/worker/routing/circuit.ts';

const NOW = 1_700_000_000_000;

function record(o: Pick<RevocationRecord, 'kind' | 'subject'> & Partial<RevocationRecord>): RevocationRecord {
  return {
    id: `${o.kind}-${o.subject}-${o.at ?? NOW}`,
    at: NOW,
    expiresAt: Date.now() + 3600_000,
    reason: 'test',
    ...o,
  };
}

function cred(o: Partial<Credential> = {}): Credential {
  return { userId: 'u1', circuitId: 'c1', issuedAt: NOW - 1000, grant: { l: 'L1', t: 'T1' }, ...o };
}

/** A set confirmed just now (not stale). */
function fresh(): RevocationSet {
  const s = new RevocationSet({ staleAfterMs: 30_000 });
  s.confirm(NOW);
  return s;
}

describe('RevocationSet', () => {
  test('login-session and token records refuse every credential of that grant, whenever issued', () => {
    const s = fresh();
    s.apply(record({ kind: 'login-session', subject: 'L1' }), undefined, NOW);
    assert.equal((s.check(cred(), NOW) as RevocationRecord).kind, 'login-session');
    assert.notEqual(s.check(cred({ issuedAt: NOW + 5000 }), NOW), null, 'issued after `at` too');
    assert.equal(s.check(cred({ grant: { l: 'L2' } }), NOW), null, 'another login session');
    assert.equal(s.check(cred({ grant: {} }), NOW), null, 'no grant');
    s.apply(record({ kind: 'token', subject: 'T9' }), undefined, NOW);
    assert.equal((s.check(cred({ grant: { t: 'T9' } }), NOW) as RevocationRecord).kind, 'token');
    assert.equal(s.check(cred({ grant: { t: 'T8' } }), NOW), null);
  });

  test('user and circuit records refuse credentials issued before `at` only; the latest `at` counts', () => {
    const s = fresh();
    s.apply(record({ kind: 'user', subject: 'u1', at: NOW }), undefined, NOW);
    assert.notEqual(s.check(cred({ issuedAt: NOW - 1 }), NOW), null);
    assert.equal(s.check(cred({ issuedAt: NOW }), NOW), null, 'issued at `at`: after the record');
    assert.equal(s.check(cred({ userId: 'u2', issuedAt: 0 }), NOW), null, 'another user');
    s.apply(record({ id: 'later', kind: 'user', subject: 'u1', at: NOW + 10 }), undefined, NOW);
    assert.notEqual(s.check(cred({ issuedAt: NOW + 5 }), NOW), null, 'the later record refuses more');
    s.remove('later');
    assert.equal(s.check(cred({ issuedAt: NOW + 5 }), NOW), null, 'the earlier record takes its place again');
    assert.notEqual(s.check(cred({ issuedAt: NOW - 5 }), NOW), null);

    s.apply(record({ kind: 'circuit', subject: 'c1', at: NOW }), undefined, NOW);
    assert.equal(
      (s.check(cred({ userId: 'u3', issuedAt: NOW - 1 }), NOW) as RevocationRecord).kind,
      'circuit',
    );
    assert.equal(s.check(cred({ userId: 'u3', issuedAt: NOW + 1 }), NOW), null);
    assert.equal(s.check(cred({ userId: 'u3', circuitId: 'c2', issuedAt: 0 }), NOW), null);
  });

  test('records past their expiry are dropped (sweep, resync) and expired ones never applied', () => {
    const changes: number[] = [];
    const s = new RevocationSet({ onSizeChange: (n) => changes.push(n) });
    s.apply(record({ kind: 'login-session', subject: 'L1', expiresAt: NOW + 100 }), undefined, NOW);
    s.apply(record({ kind: 'login-session', subject: 'L2', expiresAt: NOW - 1 }), undefined, NOW);
    assert.equal(s.size, 1, 'the expired one is ignored');
    s.sweep(NOW + 99);
    assert.equal(s.size, 1);
    s.sweep(NOW + 100);
    assert.equal(s.size, 0);
    assert.equal(s.check(cred(), NOW + 100), null);
    assert.deepEqual(changes, [1, 0]);
    s.resync([record({ kind: 'token', subject: 'T1', expiresAt: NOW + 10 })], 5, NOW + 20);
    assert.equal(s.size, 0);
  });

  test('revisions: a re-read older than an event neither undoes a put nor revives a delete', () => {
    const s = fresh();
    const a = record({ id: 'a', kind: 'login-session', subject: 'L1' });
    const b = record({ id: 'b', kind: 'token', subject: 'T1' });
    const c = record({ id: 'c', kind: 'user', subject: 'u1' });
    s.resync([a, b], 10, NOW);
    s.apply(c, 12, NOW); // an event after the re-read below was taken
    s.remove('b', 13);
    s.resync([a, b], 11, NOW); // a slow re-read at revision 11
    assert.deepEqual(
      s
        .records()
        .map((r) => r.id)
        .sort(),
      ['a', 'c'],
    );
    s.apply(b, 11, NOW); // a stale put of b
    assert.equal(s.records().length, 2);
    // A re-read newer than everything is the truth: a missed delete and a missed put heal.
    const d = record({ id: 'd', kind: 'token', subject: 'T2' });
    s.resync([c, d], 20, NOW);
    assert.deepEqual(
      s
        .records()
        .map((r) => r.id)
        .sort(),
      ['c', 'd'],
    );
    // An older delete of a record put later is ignored.
    s.remove('d', 15);
    assert.equal(s.size, 2);
  });

  test('fail closed: stale ⇒ credentials issued before the last confirmation are unconfirmed', () => {
    const s = new RevocationSet({ staleAfterMs: 30_000 });
    s.confirm(NOW);
    assert.equal(s.stale(NOW + 30_000), false);
    assert.equal(s.check(cred({ issuedAt: NOW - 1 }), NOW + 30_000), null, 'at the bound: still current');
    assert.equal(s.stale(NOW + 30_001), true);
    assert.equal(s.check(cred({ issuedAt: NOW - 1 }), NOW + 30_001), UNCONFIRMED);
    assert.equal(s.check(cred({ issuedAt: NOW + 10 }), NOW + 30_001), null, 'issued after it: works');
    assert.equal(s.revoked(cred({ issuedAt: NOW - 1 })), null, 'staleness does not revoke');
    s.apply(record({ kind: 'login-session', subject: 'L1' }), undefined, NOW);
    assert.equal((s.check(cred(), NOW + 30_001) as RevocationRecord).kind, 'login-session', 'a record wins');
    s.confirm(NOW + 30_000);
    assert.equal(s.check(cred({ grant: {}, issuedAt: NOW - 1 }), NOW + 30_001), null, 'confirmed again');
    s.confirm(NOW); // an older confirmation changes nothing
    assert.equal(s.confirmedAt, NOW + 30_000);
  });

  test('listeners hear of each record that arrives, once; replay and applyOp rebuild a copy', () => {
    const heard: [string, boolean][] = [];
    const ops: RevocationOp[] = [];
    class Recording extends RevocationSet {
      protected override replicate(op: RevocationOp): void {
        ops.push(op);
      }
    }
    const s = new Recording();
    s.onRecord((r, live) => heard.push([r.id, live]));
    const a = record({ id: 'a', kind: 'login-session', subject: 'L1' });
    s.resync([a], 1, NOW);
    s.confirm(NOW);
    s.apply(a, 2, NOW); // the same record again: nothing new
    const b = record({ id: 'b', kind: 'token', subject: 'T1' });
    s.apply(b, 3, NOW);
    assert.deepEqual(heard, [
      ['a', false],
      ['b', true],
    ]);
    const copy = new RevocationSet();
    for (const op of s.replay()) copy.applyOp(op);
    assert.deepEqual(copy.records(), s.records());
    assert.equal(copy.confirmedAt, NOW);
    s.remove('a', 4);
    for (const op of ops.slice(-1)) copy.applyOp(op);
    assert.deepEqual(copy.records(), [b]);
  });
});

describe('app cookies bound to a grant', () => {
  const cookies = new AppCookies({ secret: Buffer.alloc(32, 1), ttlMs: 3600_000, secure: false });
  const target = { id: 'c1', ownerId: 'u1', cookieName: cookies.nameFor('c1') };
  const req = (setCookie: string) => ({ headers: { cookie: setCookie.split(';')[0]! } }) as never;

  test('carry the grant and issue time; expire no later than maxExpiresAt', () => {
    const now = Date.now();
    const set = cookies.issue('c1', 'u1', {
      grant: { l: 'L1' },
      issuedAt: now - 5000,
      maxExpiresAt: now + 90_500,
      now,
    });
    assert.match(set, /; Max-Age=90;/);
    const claims = verifyRequest(cookies, fresh(), target, req(set));
    assert.equal(typeof claims, 'object');
    const c = claims as Exclude<typeof claims, string>;
    assert.deepEqual(c.grant, { l: 'L1' } satisfies Grant);
    assert.equal(c.issuedAt, now - 5000);
    assert.equal(c.expiresAt, now + 90_500);
    assert.match(cookies.issue('c1', 'u1', { now }), /; Max-Age=3600;/, 'the worker lifetime otherwise');
  });

  test('a revoked grant or user, or a stale set, refuses the cookie on the next request', () => {
    const set = cookies.issue('c1', 'u1', { grant: { l: 'L1', t: 'T1' } });
    const s = new RevocationSet({ staleAfterMs: 1000 });
    s.confirm(Date.now());
    assert.equal(typeof verifyRequest(cookies, s, target, req(set)), 'object');
    s.apply(record({ kind: 'token', subject: 'T1', expiresAt: Date.now() + 60_000 }));
    assert.equal(verifyRequest(cookies, s, target, req(set)), 'AP_ERR_APP_COOKIE_REVOKED');
    const other = cookies.issue('c1', 'u1', { grant: { l: 'L2' }, issuedAt: Date.now() - 60_000 });
    assert.equal(typeof verifyRequest(cookies, s, target, req(other)), 'object');
    s.confirmedAt = Date.now() - 2000; // not confirmed for 2 s, bound 1 s
    assert.equal(verifyRequest(cookies, s, target, req(other)), 'AP_ERR_APP_COOKIE_UNCONFIRMED');
  });

  test('cookies from before grants (no `i`) count as issued at 0', () => {
    const payload = Buffer.from(JSON.stringify({ c: 'c1', u: 'u1', e: Date.now() + 60_000 })).toString(
      'base64url',
    );
    const sig = createHmac('sha256', Buffer.alloc(32, 1)).update(payload).digest('base64url');
    const s = fresh();
    s.apply(record({ kind: 'user', subject: 'u1', at: 1, expiresAt: Date.now() + 60_000 }));
    const header = `${target.cookieName}=${payload}.${sig}`;
    assert.equal(verifyRequest(cookies, s, target, req(header)), 'AP_ERR_APP_COOKIE_REVOKED');
  });
});

describe('ConnectionRegistry.revoke', () => {
  class Fake extends Connection {
    readonly kind = 'websocket' as const;
    ended: CloseReason | null = null;
    constructor(reg: ConnectionRegistry, circuitId: string, userId: string, grant: Grant, issuedAt: number) {
      const circuit = { id: circuitId, spec: { sessionId: 's1' }, ownerId: userId } as unknown as Circuit;
      super(reg, circuit, '127.0.0.1:1', userId, 'cookie', grant, issuedAt);
      reg.add(this);
    }
    terminate(reason: CloseReason): void {
      this.ended ??= reason;
      this.reason ??= reason;
      this.finish(0, 0);
    }
    destroy(): void {
      this.terminate('circuit-closed');
    }
  }

  test('ends what each kind matches, with `revoked`, and nothing else', () => {
    const reg = new ConnectionRegistry({ record: () => {} } as unknown as AccessLog);
    const l1 = new Fake(reg, 'c1', 'u1', { l: 'L1' }, NOW - 10);
    const t1 = new Fake(reg, 'c2', 'u1', { t: 'T1' }, NOW + 10);
    const l2 = new Fake(reg, 'c1', 'u2', { l: 'L2' }, NOW - 10);
    const late = new Fake(reg, 'c3', 'u2', { l: 'L3' }, NOW + 10);
    assert.equal(reg.revoke(record({ kind: 'login-session', subject: 'L1' })), 1);
    assert.equal(l1.ended, 'revoked');
    assert.equal(reg.revoke(record({ kind: 'login-session', subject: 'L1' })), 0, 'gone from the index');
    assert.equal(reg.revoke(record({ kind: 'token', subject: 'T1' })), 1);
    assert.equal(t1.ended, 'revoked');
    assert.equal(reg.revoke(record({ kind: 'user', subject: 'u2', at: NOW })), 1, 'issued before `at` only');
    assert.equal(l2.ended, 'revoked');
    assert.equal(late.ended, null);
    assert.equal(reg.revoke(record({ kind: 'circuit', subject: 'c3', at: NOW + 11 })), 1);
    assert.equal(late.ended, 'revoked');
    assert.equal(reg.size, 0);
  });
});
