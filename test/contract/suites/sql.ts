/**
 * The SQL role's contract: the migrations, the transaction helper, the UniqueViolation
 * translation and the schema's slot constraints, on every adapter (embedded PGlite and
 * PostgreSQL). Rows use random ids so suites can share a database; the one case that changes
 * `schema_migrations` puts it back.
 *
 * `open` gives an already-usable database (migrated or not: the suite calls `migrate()` first).
 * `openEmpty`, when given, gives a database with no schema at all, for the from-scratch case.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LATEST_SCHEMA_VERSION } from '../../../src/stores/sql/migrate.ts';
import { type SqlDatabase, type SqlExecutor, UniqueViolation } from '../../../src/stores/types.ts';
import { uniqueTag } from './util.ts';

export interface SqlContractOptions {
  /** A database without any schema, closed by the suite. */
  openEmpty?: () => Promise<SqlDatabase>;
}

const PORT_INDEX = 'circuits_worker_port_live';
const SUBDOMAIN_INDEX = 'circuits_worker_subdomain_live';

/** The SQLSTATE of a database error, looked for on the error and on its cause. */
function sqlState(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  if (typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return e.code;
  if (typeof e?.cause?.code === 'string') return e.cause.code;
  return undefined;
}

function isUniqueViolation(constraint: string) {
  return (err: unknown) => {
    assert.ok(err instanceof UniqueViolation, `expected UniqueViolation, got ${String(err)}`);
    assert.equal(err.constraint, constraint);
    assert.match(err.message, new RegExp(constraint));
    return true;
  };
}

function isCheckViolation(err: unknown): boolean {
  assert.ok(!(err instanceof UniqueViolation), `a check violation surfaced as ${String(err)}`);
  assert.equal(sqlState(err), '23514', `expected SQLSTATE 23514 (check_violation), got ${String(err)}`);
  return true;
}

interface Fixture {
  tag: string;
  user: string;
  session: string;
  portWorker: string;
  wildcardWorker: string;
}

async function seed(db: SqlExecutor): Promise<Fixture> {
  const tag = uniqueTag();
  const f: Fixture = {
    tag,
    user: `u-${tag}`,
    session: `s-${tag}`,
    portWorker: `wp-${tag}:7000`,
    wildcardWorker: `ww-${tag}:7000`,
  };
  await db.query('INSERT INTO users (id, name, role) VALUES ($1, $2, $3)', [f.user, `user-${tag}`, 'user']);
  await db.query(
    `INSERT INTO sessions (id, name, template, owner_id, agent, state) VALUES ($1, $2, 'jupyter', $3, 'local', 'RUNNING')`,
    [f.session, `session-${tag}`, f.user],
  );
  await db.query(
    `INSERT INTO workers (authority, frontend_mode, protocols, port_min, port_max, public_host)
     VALUES ($1, 'port', $2, 20000, 20100, 'localhost')`,
    [f.portWorker, ['http', 'tcp']],
  );
  await db.query(
    `INSERT INTO workers (authority, frontend_mode, protocols, wildcard_domain, public_host)
     VALUES ($1, 'wildcard', $2, 'apps.example.test', 'apps.example.test')`,
    [f.wildcardWorker, ['http']],
  );
  return f;
}

interface CircuitSpec {
  id?: string;
  worker?: string;
  mode?: 'port' | 'wildcard';
  port?: number | null;
  subdomain?: string | null;
  state?: 'PENDING' | 'ACTIVE' | 'CLOSING' | 'CLOSED';
}

async function insertCircuit(db: SqlExecutor, f: Fixture, spec: CircuitSpec): Promise<string> {
  const id = spec.id ?? `c-${uniqueTag()}`;
  const mode = spec.mode ?? 'port';
  await db.query(
    `INSERT INTO circuits (id, session_id, service, protocol, owner_id, worker, frontend_mode, port, subdomain,
                           app_url, backends, state)
     VALUES ($1, $2, 'web', 'http', $3, $4, $5, $6, $7, $8, $9::jsonb, $10)`,
    [
      id,
      f.session,
      f.user,
      spec.worker ?? (mode === 'port' ? f.portWorker : f.wildcardWorker),
      mode,
      spec.port === undefined ? (mode === 'port' ? 20001 : null) : spec.port,
      spec.subdomain === undefined ? (mode === 'wildcard' ? 'a1b2c3' : null) : spec.subdomain,
      'http://app.example.test/',
      JSON.stringify([{ host: '10.0.0.1', port: 8888 }]),
      spec.state ?? 'ACTIVE',
    ],
  );
  return id;
}

export function sqlContract(
  name: string,
  open: () => Promise<SqlDatabase>,
  opts: SqlContractOptions = {},
): void {
  describe(`SqlDatabase contract: ${name}`, () => {
    let db: SqlDatabase;
    before(async () => {
      db = await open();
      await db.migrate();
    });
    after(async () => {
      await db?.close();
    });

    describe('migrate', () => {
      it('is idempotent and returns the latest schema version', async () => {
        assert.ok(LATEST_SCHEMA_VERSION >= 1);
        assert.equal(await db.migrate(), LATEST_SCHEMA_VERSION);
        assert.equal(await db.migrate(), LATEST_SCHEMA_VERSION);
        const { rows } = await db.query<{ version: number; n: number }>(
          'SELECT version, count(*)::int AS n FROM schema_migrations GROUP BY version ORDER BY version',
        );
        assert.equal(rows.at(-1)?.version, LATEST_SCHEMA_VERSION);
        for (const r of rows) assert.equal(r.n, 1, `version ${r.version} recorded ${r.n} times`);
      });

      it('refuses a schema newer than this build, with a clear message', async () => {
        const future = LATEST_SCHEMA_VERSION + 1000;
        await db.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
          future,
          'from_the_future',
        ]);
        try {
          await assert.rejects(db.migrate(), (err: unknown) => {
            assert.ok(err instanceof Error);
            assert.match(err.message, /newer/i);
            assert.match(err.message, new RegExp(`\\b${future}\\b`));
            assert.match(err.message, new RegExp(`\\b${LATEST_SCHEMA_VERSION}\\b`));
            return true;
          });
        } finally {
          await db.query('DELETE FROM schema_migrations WHERE version = $1', [future]);
        }
        assert.equal(await db.migrate(), LATEST_SCHEMA_VERSION);
      });

      it('builds the whole schema on an empty database, also when run twice at once', {
        skip: opts.openEmpty ? false : 'adapter gave no openEmpty factory',
      }, async () => {
        const empty = await opts.openEmpty!();
        try {
          const versions = await Promise.all([empty.migrate(), empty.migrate()]);
          assert.deepEqual(versions, [LATEST_SCHEMA_VERSION, LATEST_SCHEMA_VERSION]);
          assert.equal(await empty.migrate(), LATEST_SCHEMA_VERSION);
          const { rows } = await empty.query<{ version: number }>(
            'SELECT version FROM schema_migrations ORDER BY version',
          );
          assert.deepEqual(
            rows.map((r) => r.version),
            Array.from({ length: rows.length }, (_, i) => i + 1),
          );
          assert.equal(rows.at(-1)?.version, LATEST_SCHEMA_VERSION);
          const f = await seed(empty);
          await insertCircuit(empty, f, {});
          await assert.rejects(insertCircuit(empty, f, {}), isUniqueViolation(PORT_INDEX));
        } finally {
          await empty.close();
        }
      });
    });

    describe('query', () => {
      it('round-trips text, int, jsonb, timestamptz, text[] and null parameters', async () => {
        const text = `it's "quoted" \\ ; héllo ✓ 世界`;
        const json = { a: [1, 2.5, null, true], b: { c: 'd"e' }, u: 'ünï' };
        const when = new Date('2024-02-29T12:34:56.789Z');
        const arr = ['http', 'tcp', 'with,comma', 'with "quote"', '{brace}', ''];
        const { rows } = await db.query<{
          t: string;
          i: number;
          j: unknown;
          ts: Date;
          a: string[];
          e: string[];
          n: string | null;
        }>(
          'SELECT $1::text AS t, $2::int AS i, $3::jsonb AS j, $4::timestamptz AS ts, $5::text[] AS a, $6::text[] AS e, $7::text AS n',
          [text, -42, JSON.stringify(json), when, arr, [], null],
        );
        assert.equal(rows.length, 1);
        const r = rows[0]!;
        assert.equal(r.t, text);
        assert.equal(r.i, -42);
        assert.deepEqual(r.j, json);
        assert.ok(r.ts instanceof Date, `timestamptz came back as ${typeof r.ts}`);
        assert.equal(r.ts.getTime(), when.getTime());
        assert.deepEqual(r.a, arr);
        assert.deepEqual(r.e, []);
        assert.equal(r.n, null);
      });

      it('round-trips column values through the schema (jsonb backends, text[] protocols, timestamps)', async () => {
        const f = await seed(db);
        const seen = new Date('2030-01-02T03:04:05.678Z');
        await db.query('UPDATE workers SET last_seen_at = $2 WHERE authority = $1', [f.portWorker, seen]);
        const w = await db.query<{ protocols: string[]; last_seen_at: Date; port_min: number }>(
          'SELECT protocols, last_seen_at, port_min FROM workers WHERE authority = $1',
          [f.portWorker],
        );
        assert.deepEqual(w.rows[0]?.protocols, ['http', 'tcp']);
        assert.equal(w.rows[0]?.last_seen_at.getTime(), seen.getTime());
        assert.equal(w.rows[0]?.port_min, 20000);
        const id = await insertCircuit(db, f, {});
        const c = await db.query<{ backends: unknown; created_at: Date; port: number; subdomain: null }>(
          'SELECT backends, created_at, port, subdomain FROM circuits WHERE id = $1',
          [id],
        );
        assert.deepEqual(c.rows[0]?.backends, [{ host: '10.0.0.1', port: 8888 }]);
        assert.ok(c.rows[0]?.created_at instanceof Date);
        assert.equal(c.rows[0]?.port, 20001);
        assert.equal(c.rows[0]?.subdomain, null);
      });

      it('reports rowCount for SELECT, INSERT, UPDATE and DELETE', async () => {
        const f = await seed(db);
        const ins = await db.query(
          'INSERT INTO session_services (session_id, name, protocol) VALUES ($1, $2, $3)',
          [f.session, 'a', 'http'],
        );
        assert.equal(ins.rowCount, 1);
        await db.query(
          `INSERT INTO session_services (session_id, name, protocol) VALUES ($1, 'b', 'http'), ($1, 'c', 'tcp')`,
          [f.session],
        );
        const sel = await db.query('SELECT name FROM session_services WHERE session_id = $1 ORDER BY name', [
          f.session,
        ]);
        assert.deepEqual(
          sel.rows.map((r) => r.name),
          ['a', 'b', 'c'],
        );
        assert.equal(sel.rowCount, 3);
        const upd = await db.query(
          `UPDATE session_services SET backend_port = 80 WHERE session_id = $1 AND protocol = 'http'`,
          [f.session],
        );
        assert.equal(upd.rowCount, 2);
        const none = await db.query('UPDATE session_services SET backend_port = 80 WHERE session_id = $1', [
          'nope',
        ]);
        assert.equal(none.rowCount, 0);
        const del = await db.query('DELETE FROM session_services WHERE session_id = $1', [f.session]);
        assert.equal(del.rowCount, 3);
      });
    });

    describe('transaction', () => {
      it('commits when the function resolves, and returns its value', async () => {
        const tag = uniqueTag();
        const out = await db.transaction(async (tx) => {
          await tx.query('INSERT INTO users (id, name, role) VALUES ($1, $2, $3)', [
            `u-${tag}`,
            `n-${tag}`,
            'admin',
          ]);
          const { rows } = await tx.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM users WHERE id = $1',
            [`u-${tag}`],
          );
          return rows[0]?.n;
        });
        assert.equal(out, 1);
        const { rows } = await db.query<{ role: string }>('SELECT role FROM users WHERE id = $1', [
          `u-${tag}`,
        ]);
        assert.deepEqual(rows, [{ role: 'admin' }]);
      });

      it('rolls back every write when the function throws, and rethrows that error', async () => {
        const tag = uniqueTag();
        const boom = new Error(`boom ${tag}`);
        await assert.rejects(
          db.transaction(async (tx) => {
            await tx.query('INSERT INTO users (id, name, role) VALUES ($1, $2, $3)', [
              `u1-${tag}`,
              `n1-${tag}`,
              'user',
            ]);
            await tx.query('INSERT INTO users (id, name, role) VALUES ($1, $2, $3)', [
              `u2-${tag}`,
              `n2-${tag}`,
              'user',
            ]);
            throw boom;
          }),
          (err) => err === boom,
        );
        const { rows } = await db.query('SELECT id FROM users WHERE id IN ($1, $2)', [
          `u1-${tag}`,
          `u2-${tag}`,
        ]);
        assert.deepEqual(rows, []);
      });

      it('rolls back earlier writes when a statement fails, surfacing UniqueViolation', async () => {
        const tag = uniqueTag();
        await db.query('INSERT INTO users (id, name, role) VALUES ($1, $2, $3)', [
          `u0-${tag}`,
          `taken-${tag}`,
          'user',
        ]);
        await assert.rejects(
          db.transaction(async (tx) => {
            await tx.query('INSERT INTO users (id, name, role) VALUES ($1, $2, $3)', [
              `u1-${tag}`,
              `n1-${tag}`,
              'user',
            ]);
            await tx.query('INSERT INTO users (id, name, role) VALUES ($1, $2, $3)', [
              `u2-${tag}`,
              `taken-${tag}`,
              'user',
            ]);
          }),
          isUniqueViolation('users_name_key'),
        );
        const { rows } = await db.query('SELECT id FROM users WHERE id = $1', [`u1-${tag}`]);
        assert.deepEqual(rows, [], 'the first insert of the failed transaction was kept');
        // The database is still usable afterwards.
        const ok = await db.transaction((tx) => tx.query<{ one: number }>('SELECT 1 AS one'));
        assert.deepEqual(ok.rows, [{ one: 1 }]);
      });
    });

    describe('constraints', () => {
      it('raises UniqueViolation with the constraint name for a taken live port on a worker', async () => {
        const f = await seed(db);
        await insertCircuit(db, f, { port: 20005, state: 'PENDING' });
        await assert.rejects(insertCircuit(db, f, { port: 20005 }), isUniqueViolation(PORT_INDEX));
        await assert.rejects(
          insertCircuit(db, f, { port: 20005, state: 'CLOSING' }),
          isUniqueViolation(PORT_INDEX),
        );
        // Another port on the same worker is free.
        await insertCircuit(db, f, { port: 20006 });
      });

      it('raises UniqueViolation with the constraint name for a taken live subdomain on a worker', async () => {
        const f = await seed(db);
        await insertCircuit(db, f, { mode: 'wildcard', subdomain: 'abc123' });
        await assert.rejects(
          insertCircuit(db, f, { mode: 'wildcard', subdomain: 'abc123', state: 'PENDING' }),
          isUniqueViolation(SUBDOMAIN_INDEX),
        );
        await assert.rejects(
          db.transaction((tx) => insertCircuit(tx, f, { mode: 'wildcard', subdomain: 'abc123' })),
          isUniqueViolation(SUBDOMAIN_INDEX),
        );
        await insertCircuit(db, f, { mode: 'wildcard', subdomain: 'abc124' });
      });

      it('scopes slots to their worker', async () => {
        const f = await seed(db);
        const other = `wp2-${f.tag}:7000`;
        await db.query(
          `INSERT INTO workers (authority, frontend_mode, protocols, port_min, port_max, public_host)
           VALUES ($1, 'port', $2, 20000, 20100, 'localhost')`,
          [other, ['http']],
        );
        await insertCircuit(db, f, { port: 20010 });
        await insertCircuit(db, f, { port: 20010, worker: other });
      });

      it('lets a CLOSED circuit give up its slot', async () => {
        const f = await seed(db);
        const first = await insertCircuit(db, f, { port: 20020 });
        const firstSub = await insertCircuit(db, f, { mode: 'wildcard', subdomain: 'fedcba' });
        await db.query(`UPDATE circuits SET state = 'CLOSED', closed_at = now() WHERE id IN ($1, $2)`, [
          first,
          firstSub,
        ]);
        const second = await insertCircuit(db, f, { port: 20020 });
        await insertCircuit(db, f, { mode: 'wildcard', subdomain: 'fedcba' });
        // Several closed circuits may share the slot's history.
        await insertCircuit(db, f, { port: 20020, state: 'CLOSED' });
        // The slot is held again: the old circuit cannot come back to life.
        await assert.rejects(
          db.query(`UPDATE circuits SET state = 'ACTIVE' WHERE id = $1`, [first]),
          isUniqueViolation(PORT_INDEX),
        );
        await db.query(`UPDATE circuits SET state = 'CLOSED' WHERE id = $1`, [second]);
        await db.query(`UPDATE circuits SET state = 'ACTIVE' WHERE id = $1`, [first]);
      });

      it('lets exactly one of 20 concurrent transactions take the same slot', async () => {
        const f = await seed(db);
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) =>
            db.transaction(async (tx) => {
              const { rows } = await tx.query<{ n: number }>(
                `SELECT count(*)::int AS n FROM circuits WHERE worker = $1 AND state <> 'CLOSED'`,
                [f.portWorker],
              );
              await insertCircuit(tx, f, { id: `c-${f.tag}-${i}`, port: 20030 });
              return rows[0]?.n;
            }),
          ),
        );
        const won = results.filter((r) => r.status === 'fulfilled');
        assert.equal(won.length, 1, `${won.length} transactions took the slot`);
        for (const r of results) {
          if (r.status === 'rejected') isUniqueViolation(PORT_INDEX)(r.reason);
        }
        const { rows } = await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM circuits WHERE worker = $1 AND port = 20030`,
          [f.portWorker],
        );
        assert.equal(rows[0]?.n, 1);
      });

      it('rejects a port-mode circuit without a port, and mixed or malformed frontends', async () => {
        const f = await seed(db);
        await assert.rejects(insertCircuit(db, f, { mode: 'port', port: null }), isCheckViolation);
        await assert.rejects(
          insertCircuit(db, f, { mode: 'port', port: 20040, subdomain: 'abcdef' }),
          isCheckViolation,
        );
        await assert.rejects(insertCircuit(db, f, { mode: 'wildcard', subdomain: null }), isCheckViolation);
        await assert.rejects(
          insertCircuit(db, f, { mode: 'wildcard', subdomain: 'abcdef', port: 20040 }),
          isCheckViolation,
        );
        await assert.rejects(insertCircuit(db, f, { mode: 'port', port: 70000 }), isCheckViolation);
        await assert.rejects(insertCircuit(db, f, { mode: 'port', port: 0 }), isCheckViolation);
        const { rows } = await db.query('SELECT id FROM circuits WHERE session_id = $1', [f.session]);
        assert.deepEqual(rows, []);
      });

      it('rejects a malformed subdomain', async () => {
        const f = await seed(db);
        for (const bad of ['ABCDEF', 'abcde', 'abcdef0', 'ghijkl', 'ab-cde', '']) {
          await assert.rejects(
            insertCircuit(db, f, { mode: 'wildcard', subdomain: bad }),
            isCheckViolation,
            bad,
          );
        }
        await insertCircuit(db, f, { mode: 'wildcard', subdomain: '0a9f3c' });
      });

      it('rejects unknown states', async () => {
        const f = await seed(db);
        await assert.rejects(
          db.query(`UPDATE sessions SET state = 'SLEEPING' WHERE id = $1`, [f.session]),
          isCheckViolation,
        );
        await assert.rejects(insertCircuit(db, f, { state: 'OPEN' as 'ACTIVE' }), isCheckViolation);
      });
    });
  });
}
