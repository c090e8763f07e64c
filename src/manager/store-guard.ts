/**
 * Wraps the store roles so that a store that is down surfaces as `AP_ERR_STORE_UNAVAILABLE`
 * (503, "try again") instead of a 500. Errors that carry meaning pass through untouched:
 * `AppProxyError` (thrown by our own code inside a transaction), `UniqueViolation` (the slot
 * allocator's race signal) and SQL errors that are our bugs (syntax, constraint, type: SQLSTATE
 * classes other than connection/resources/operator/system), which stay 500s.
 */
import { AppProxyError, UniqueViolation } from '../contracts/errors.ts';
import type { CounterStore, KvStore, SqlDatabase, SqlExecutor, Stores } from '../stores/types.ts';

type Role = 'sql' | 'kv' | 'counters';

/** SQLSTATE classes that mean "the database is not there or not able", not "your query is wrong". */
const UNAVAILABLE_SQLSTATE = /^(08|53|57|58|40001|40P01)/;

function mapError(role: Role, err: unknown): unknown {
  if (err instanceof AppProxyError || err instanceof UniqueViolation) return err;
  if (role === 'sql') {
    const code = (err as { code?: unknown })?.code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !UNAVAILABLE_SQLSTATE.test(code))
      return err;
  }
  return new AppProxyError('AP_ERR_STORE_UNAVAILABLE', undefined, { store: role }, { cause: err });
}

async function guarded<T>(role: Role, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw mapError(role, err);
  }
}

function guardExecutor(x: SqlExecutor): SqlExecutor {
  return { query: (text, params) => guarded('sql', () => x.query(text, params)) };
}

export function guardStores(stores: Stores): Stores {
  const { sql, kv, counters } = stores;
  const gSql: SqlDatabase = {
    query: (text, params) => guarded('sql', () => sql.query(text, params)),
    transaction: (fn) => guarded('sql', () => sql.transaction((tx) => fn(guardExecutor(tx)))),
    migrate: () => guarded('sql', () => sql.migrate()),
    close: () => sql.close(),
  };
  const gKv: KvStore = {
    get: (k) => guarded('kv', () => kv.get(k)),
    getPrefix: (p) => guarded('kv', () => kv.getPrefix(p)),
    put: (k, v, o) => guarded('kv', () => kv.put(k, v, o)),
    delete: (k) => guarded('kv', () => kv.delete(k)),
    txn: (c, s, f) => guarded('kv', () => kv.txn(c, s, f)),
    watch: (p, r, h) => guarded('kv', () => kv.watch(p, r, h)),
    grantLease: (t) => guarded('kv', () => kv.grantLease(t)),
    close: () => kv.close(),
  };
  const gCounters: CounterStore = {
    incr: (k, b, t) => guarded('counters', () => counters.incr(k, b, t)),
    get: (k) => guarded('counters', () => counters.get(k)),
    mget: (k) => guarded('counters', () => counters.mget(k)),
    keys: (p) => guarded('counters', () => counters.keys(p)),
    set: (k, v, t) => guarded('counters', () => counters.set(k, v, t)),
    setIfAbsent: (k, v, t) => guarded('counters', () => counters.setIfAbsent(k, v, t)),
    delete: (k) => guarded('counters', () => counters.delete(k)),
    batch: (o) => guarded('counters', () => counters.batch(o)),
    close: () => counters.close(),
  };
  return { sql: gSql, kv: gKv, counters: gCounters };
}
