import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { guardStores } from '../../src/manager/store-guard.ts';
import { PostgresDatabase, SqlConnectionError } from '../../src/stores/postgres/sql.ts';
import { LATEST_SCHEMA_VERSION } from '../../src/stores/sql/migrate.ts';
import type { CounterStore, KvStore, SqlDatabase } from '../../src/stores/types.ts';
import { useRealServer } from '../support/infra/real.ts';
import { startPostgres } from '../support/infra/servers.ts';
import { until } from '../support/poll.ts';
import { sqlContract } from './suites/sql.ts';

const pg = await useRealServer('PostgreSQL', () => startPostgres());

const guardSql = (db: SqlDatabase) =>
  guardStores({ sql: db, kv: {} as KvStore, counters: {} as CounterStore }).sql;

if (pg) {
  // The contract suite gets a database of its own; the cases below make their own as needed.
  const contractUrl = await pg.createDatabase('contract');
  sqlContract('PostgreSQL', async () => new PostgresDatabase({ url: contractUrl }), {
    openEmpty: async () => {
      const db = new PostgresDatabase({ url: await pg.createDatabase('empty') });
      return db;
    },
  });

  describe('PostgreSQL adapter', () => {
    it('migrates a fresh database once when several processes start at once', async () => {
      const url = await pg.createDatabase('race');
      const dbs = Array.from({ length: 4 }, () => new PostgresDatabase({ url, poolSize: 2 }));
      try {
        const versions = await Promise.all(dbs.map((d) => d.migrate()));
        assert.deepEqual(
          versions,
          dbs.map(() => LATEST_SCHEMA_VERSION),
        );
        const { rows } = await dbs[0]!.query<{ version: number; n: number }>(
          'SELECT version, count(*)::int AS n FROM schema_migrations GROUP BY version ORDER BY version',
        );
        assert.deepEqual(
          rows.map((r) => [r.version, r.n]),
          Array.from({ length: LATEST_SCHEMA_VERSION }, (_, i) => [i + 1, 1]),
        );
      } finally {
        await Promise.all(dbs.map((d) => d.close()));
      }
    });

    it('checkSchema refuses an older schema (for processes that must not migrate) and accepts the current one', async () => {
      const db = new PostgresDatabase({ url: await pg.createDatabase('check') });
      try {
        assert.equal(await db.schemaVersion(), 0);
        await assert.rejects(db.checkSchema(), /older than this AppProxy build needs/);
        await db.migrate();
        assert.equal(await db.checkSchema(), LATEST_SCHEMA_VERSION);
        await db.query(
          `INSERT INTO schema_migrations (version, name) VALUES (${LATEST_SCHEMA_VERSION + 1}, 'x')`,
        );
        await assert.rejects(db.checkSchema(), /newer than this AppProxy build knows/);
      } finally {
        await db.close();
      }
    });

    it('a statement timeout surfaces as SQLSTATE 57014, which the store guard maps to 503', async () => {
      const db = new PostgresDatabase({ url: pg.url, statementTimeoutMs: 100 });
      try {
        await assert.rejects(db.query('SELECT pg_sleep(2)'), (err: any) => err.code === '57014');
        await assert.rejects(guardSql(db).query('SELECT pg_sleep(2)'), (err: any) => {
          assert.equal(err.code, 'AP_ERR_STORE_UNAVAILABLE');
          return true;
        });
        // Our own bugs stay 500s (the SQLSTATE passes through the guard).
        await assert.rejects(guardSql(db).query('SELEC 1'), (err: any) => err.code === '42601');
      } finally {
        await db.close();
      }
    });

    describe('restart', () => {
      let db: PostgresDatabase;
      const idleErrors: Error[] = [];
      before(() => {
        db = new PostgresDatabase({
          url: pg.url,
          poolSize: 4,
          connectTimeoutMs: 1_000,
          onIdleError: (e) => idleErrors.push(e),
        });
      });
      after(() => db.close());

      it('fails queries with a recognisable connection error while PostgreSQL is down; the pool recovers by itself', async () => {
        // Fill the pool with idle connections that the shutdown will break.
        await Promise.all(Array.from({ length: 4 }, () => db.query('SELECT pg_sleep(0.05)')));
        await pg.stop();
        const down = await db.query('SELECT 1').then(
          () => undefined,
          (err: unknown) => err,
        );
        assert.ok(down instanceof SqlConnectionError, `not a SqlConnectionError: ${String(down)}`);
        assert.ok(['ECONNREFUSED', '08006'].includes(down.code), `code ${down.code}`);
        await assert.rejects(
          db.transaction((tx) => tx.query('SELECT 1')),
          (err) => err instanceof SqlConnectionError,
        );
        await assert.rejects(guardSql(db).query('SELECT 1'), (err: any) => {
          assert.equal(err.code, 'AP_ERR_STORE_UNAVAILABLE');
          return true;
        });
        await assert.rejects(
          guardSql(db).transaction((tx) => tx.query('SELECT 1')),
          (err: any) => {
            assert.equal(err.code, 'AP_ERR_STORE_UNAVAILABLE');
            return true;
          },
        );

        await pg.start();
        await until(
          async () =>
            await db.query('SELECT 1 AS one').then(
              () => true,
              () => false,
            ),
          'the pool to recover',
          { timeoutMs: 10_000, intervalMs: 100 },
        );
        const { rows } = await db.transaction((tx) => tx.query<{ n: number }>('SELECT 2 AS n'));
        assert.deepEqual(rows, [{ n: 2 }]);
        // Every pooled connection works again (broken ones were dropped, not handed out).
        const all = await Promise.all(Array.from({ length: 8 }, () => db.query('SELECT 1 AS one')));
        assert.equal(all.length, 8);
      });

      it('a connection that breaks in the middle of a transaction fails with a connection error, not a hang', async () => {
        const pending = db.transaction(async (tx) => {
          await tx.query('SELECT 1');
          await tx.query(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = pg_backend_pid()',
          );
          await tx.query('SELECT 2');
        });
        await assert.rejects(pending, (err: any) => {
          assert.ok(
            err instanceof SqlConnectionError || /^57P0/.test(err.code),
            `unexpected ${err} (${err.code})`,
          );
          return true;
        });
        await until(
          async () =>
            await db.query('SELECT 1').then(
              () => true,
              () => false,
            ),
          'the pool to be usable after a broken transaction',
          { timeoutMs: 5_000 },
        );
      });
    });
  });
}
