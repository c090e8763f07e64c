/**
 * One writer of circuit specs: no module but the circuit projection
 * (`src/manager/services/circuit-projection.ts`) writes `workers/<a>/circuits/<id>` in KV.
 *
 * - At run time: start-service, an access change, a close, a session termination, reconciler
 *   repairs (route-missing, route-stale, route-orphan) and recovery after a restart run over a KV
 *   store that records the call stack of every put, delete and transaction touching a spec key.
 *   Each such write must come from the projection: directly, or from its outbox (a
 *   `LatestWinsPublisher` whose spec keys only the projection ever sets — recorded the same way).
 * - Statically: no module under `src/` other than the projection names `kvKeys.circuit(` or
 *   spells a spec key itself.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { CircuitSpec } from '../../../src/contracts/circuit-spec.ts';
import { kvKeys } from '../../../src/contracts/kv-layout.ts';
import { EmbeddedKvStore } from '../../../src/stores/embedded/kv.ts';
import { LatestWinsPublisher } from '../../../src/stores/kv-sync.ts';
import type { KvCompare, KvOp } from '../../../src/stores/types.ts';
import { FakeAgent } from '../../support/fake-agent.ts';
import { until } from '../../support/poll.ts';
import { ManagerHarness } from './harness.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const PROJECTION = 'src/manager/services/circuit-projection.ts';
const SPEC_KEY = /^\/appproxy\/v1\/workers\/[^/]+\/circuits\//;
/** Frames that only carry a write: the stores and their wrappers, the KV-sync kit, Node itself, our recorder. */
const CARRIERS = [/\/src\/stores\//, /\/src\/manager\/store-guard\.ts/, /node:internal/, /recordingSet/];

Error.stackTraceLimit = 60;

/** The first frame of `stack` (skipping `skip` frames) that is not a carrier: its file, else 'outbox'. */
function writerOf(stack: string, skip: number): string {
  const frames = stack.split('\n').slice(1 + skip);
  for (const f of frames) {
    if (CARRIERS.some((c) => c.test(f))) continue;
    const m = /\(?(\/[^():]+|file:\/\/[^():]+):\d+:\d+\)?$/.exec(f.trim());
    if (!m) continue;
    return relative(ROOT, m[1]!.replace(/^file:\/\//, ''));
  }
  // Only carriers: a write of an outbox loop after its first await (who set it is recorded below).
  return 'outbox';
}

interface Write {
  op: string;
  key: string;
  writer: string;
}

/** The embedded store, recording who writes spec keys. */
class RecordingKv extends EmbeddedKvStore {
  readonly writes: Write[] = [];
  /** Set while `delete` runs the transaction it is made of, so it counts once. */
  private inDelete = false;

  private note(op: string, keys: string[]): void {
    const stack = new Error().stack ?? '';
    // Skip `note` and the overriding method: what is left starts at whoever called the store.
    for (const key of keys) if (SPEC_KEY.test(key)) this.writes.push({ op, key, writer: writerOf(stack, 2) });
  }

  override put(key: string, value: string, opts?: { lease?: string | null }) {
    this.note('put', [key]);
    return super.put(key, value, opts);
  }

  override delete(key: string) {
    this.note('delete', [key]);
    this.inDelete = true;
    try {
      return super.delete(key);
    } finally {
      this.inDelete = false;
    }
  }

  override txn(compares: KvCompare[], success: KvOp[], failure: KvOp[] = []) {
    if (!this.inDelete) {
      const keys = [...success, ...failure].map((o) => (o.type === 'deletePrefix' ? `${o.prefix}` : o.key));
      this.note('txn', keys);
    }
    return super.txn(compares, success, failure);
  }
}

/** Who set spec keys on any LatestWinsPublisher (an outbox's writes carry no caller of their own). */
const outboxSetters: Write[] = [];
const originalSet = LatestWinsPublisher.prototype.set;

describe('circuit specs have one writer: the circuit projection', () => {
  let kv: RecordingKv;
  let h: ManagerHarness;

  before(async () => {
    LatestWinsPublisher.prototype.set = function recordingSet(key, value, opts) {
      if (SPEC_KEY.test(key)) {
        const stack = new Error().stack ?? '';
        outboxSetters.push({ op: value === null ? 'delete' : 'put', key, writer: writerOf(stack, 1) });
      }
      return originalSet.call(this, key, value, opts);
    };
    kv = new RecordingKv();
    h = await ManagerHarness.create({ kv, manager: { reconcileIntervalMs: 3_600_000 } });
  });
  after(async () => {
    LatestWinsPublisher.prototype.set = originalSet;
    await h.close();
  });

  const writesOf = (key: string) =>
    kv.writes.filter(
      (w) => w.key === key && w.writer !== 'test/integration/manager/circuit-spec-writers.test.ts',
    );

  async function startService(sessionId: string, service: string): Promise<string> {
    const r = await h.api('POST', `/v1/sessions/${sessionId}/start-service`, { service });
    assert.equal(r.status, 200, r.text);
    return r.body.circuitId;
  }

  test('start-service, an access change, a close, a termination, reconciler repairs and recovery all write through the projection', async () => {
    const keys: Record<string, string> = {};
    const key = (id: string) => kvKeys.circuit('w1', id);

    // start-service, then an access change of a TCP circuit.
    const shell = await h.runningSession('shell');
    const http = await startService(shell.id, 'http');
    keys.opened = key(http);
    const tcp = await startService(shell.id, 'ssh');
    const patched = await h.api('PATCH', `/v1/circuits/${tcp}/access`, {
      mode: 'allow-list',
      allowFrom: ['10.0.0.0/8'],
    });
    assert.equal(patched.status, 200, patched.text);
    keys.accessChanged = key(tcp);
    assert.ok(writesOf(key(tcp)).filter((w) => w.op === 'put').length >= 2, 'opened, then re-put');

    // A close, and a session's termination (which closes its circuits).
    assert.equal((await h.api('DELETE', `/v1/circuits/${http}`)).body.state, 'CLOSED');
    const web = await h.runningSession('web');
    const doomed = await startService(web.id, 'http');
    keys.terminated = key(doomed);
    assert.equal((await h.api('DELETE', `/v1/sessions/${web.id}?wait=true`)).body.state, 'TERMINATED');

    // Reconciler repairs of damage done behind the manager's back.
    const other = await h.runningSession('web');
    const missing = await startService(other.id, 'http');
    const stale = await startService((await h.runningSession('web')).id, 'http');
    await kv.delete(key(missing));
    const spec = JSON.parse((await kv.get(key(stale)))!.value) as CircuitSpec;
    await kv.put(key(stale), JSON.stringify({ ...spec, backends: [{ host: '10.0.0.1', port: 1 }] }));
    const stray: CircuitSpec = { ...spec, id: 'stray-1', port: 20098 };
    await kv.put(key('stray-1'), JSON.stringify(stray));
    const repairs = (await h.manager.reconcile()).map((r) => r.kind).sort();
    assert.deepEqual(repairs, ['route-missing', 'route-orphan', 'route-stale']);
    keys.missing = key(missing);
    keys.stale = key(stale);
    keys.orphan = key('stray-1');

    // Recovery: a manager that crashed in the middle of a close; the next one finishes it.
    const crashed = await startService((await h.runningSession('web')).id, 'http');
    await h.sql.query(`UPDATE circuits SET state = 'CLOSING' WHERE id = $1`, [crashed]);
    await h.stopManager();
    const next = await ManagerHarness.create({
      sql: h.sql,
      kv,
      counters: h.counters,
      agent: new FakeAgent(undefined, { running: [] }),
      workers: [],
    });
    try {
      await until(async () => (await next.circuitState(crashed)) === 'CLOSED', 'the crashed close finished', {
        timeoutMs: 10_000,
      });
    } finally {
      await next.close({ keepStores: true });
    }
    keys.recovered = key(crashed);

    // Each scenario wrote its spec key, and only the projection did.
    for (const [scenario, k] of Object.entries(keys))
      assert.ok(writesOf(k).length > 0, `${scenario}: no write of ${k} was recorded`);
    assert.ok(kv.writes.some((w) => w.op !== 'put'));
    const foreign = kv.writes.filter(
      (w) =>
        w.writer !== PROJECTION &&
        w.writer !== 'outbox' &&
        w.writer !== 'test/integration/manager/circuit-spec-writers.test.ts',
    );
    assert.deepEqual(foreign, [], 'spec keys written by another module');
    assert.ok(outboxSetters.length > 0);
    assert.deepEqual(
      outboxSetters.filter((w) => w.writer !== PROJECTION),
      [],
      'spec keys handed to an outbox by another module',
    );
  });

  test('no module under src/ but the projection names a spec key', () => {
    const offenders: string[] = [];
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
      );
    const files = walk(join(ROOT, 'src'));
    assert.ok(files.some((f) => f.endsWith('circuit-projection.ts')));
    for (const file of files) {
      const rel = relative(ROOT, file);
      if (rel === PROJECTION || rel === 'src/contracts/kv-layout.ts') continue;
      const code = readFileSync(file, 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/(^|\s)\/\/.*$/gm, '$1');
      if (code.includes('kvKeys.circuit(')) offenders.push(`${rel}: kvKeys.circuit(`);
      if (/workers\/[^'"`\n]*\/circuits\//.test(code)) offenders.push(`${rel}: a spec key spelled out`);
    }
    assert.deepEqual(offenders, []);
  });
});
