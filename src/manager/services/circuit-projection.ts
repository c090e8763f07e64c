/**
 * The circuit projection: the only code that writes circuit specs (`kvKeys.circuit(worker, id)`,
 * a projection of the circuit's SQL row) and waits for the workers' answers to them. Opening a
 * circuit, changing its access, closing it and the reconciler's repairs all go through here.
 *
 * Every put and delete of a spec goes through one outbox (`LatestWinsPublisher`, no lease): one
 * writer per process, latest desired state wins, retried until the store takes it. So:
 * - a delete is never overtaken by an older put of this process (a close that follows an access
 *   change, say, always leaves the key absent);
 * - a retraction the store refused (etcd down or hung) is not lost: it lands within a fraction of
 *   a second of the store's return (the kit's retries are capped at 250 ms), which is what keeps
 *   "terminate → dark" short after an outage instead of waiting for the reconciler's next pass.
 *
 * Across managers there is no shared writer, so a put is verified once written: the circuit is
 * re-read from SQL, and if it left the live states meanwhile (a close on another manager may have
 * retracted the spec before our put landed) the spec is retracted again. A put whose caller gave
 * up (store unavailable) is verified the same way whenever it lands.
 */
import type { Logger } from 'pino';
import type { CircuitReadiness } from '../../contracts/circuit-spec.ts';
import { kvKeys, workerKeyOf } from '../../contracts/kv-layout.ts';
import { readCircuitSpec, sameCircuitSpec } from '../../core/circuit-spec.ts';
import { isCircuitLive } from '../../core/state-machines.ts';
import { LatestWinsPublisher } from '../../stores/kv-sync.ts';
import type { KvStore } from '../../stores/types.ts';
import { type CircuitRepo, type CircuitRow, circuitSpecOf } from '../repos/circuits.ts';
import { type WaitOutcome, waitForKey } from './kv-wait.ts';

/** A worker's answer to a circuit spec. */
export type Readiness = { kind: 'ready' } | { kind: 'error'; code: string; message: string };

/** `published`: the spec is in KV and the circuit is live; `closed`: it is not live (no spec left). */
export type PublishOutcome = 'published' | 'closed';

/** A circuit spec as found in KV. */
export interface StoredSpec {
  worker: string;
  id: string;
  value: string;
}

export interface CircuitProjectionDeps {
  kv: KvStore;
  circuits: CircuitRepo;
  logger: Logger;
}

export class CircuitProjection {
  private readonly outbox: LatestWinsPublisher;
  /** Per circuit, the republish whose SQL read and put are in progress (they run one at a time). */
  private readonly republishing = new Map<string, Promise<unknown>>();

  constructor(private readonly d: CircuitProjectionDeps) {
    this.outbox = new LatestWinsPublisher({ kv: d.kv, logger: d.logger, what: 'circuit spec' });
  }

  /**
   * Puts the spec of a circuit just read from SQL. `published` once it is in KV and the circuit is
   * still live afterwards; `closed` when it left the live states meanwhile (the spec is retracted
   * again). Rejects with the store's error at the first failed write: the put stays queued and is
   * verified whenever it lands.
   */
  async publish(row: CircuitRow): Promise<PublishOutcome> {
    const key = kvKeys.circuit(row.worker, row.id);
    const value = JSON.stringify(circuitSpecOf(row));
    // Forced: another manager, or an operator, may have changed the key since this one wrote it.
    this.outbox.set(key, value, { force: true });
    const verified = this.verifyOnceWritten(row, key, value);
    try {
      await this.outbox.settled(key, { failFast: true });
    } catch (err) {
      verified.catch((e: unknown) =>
        this.d.logger.warn(
          { err: e, circuit: row.id },
          'could not verify a late circuit spec; the reconciler will',
        ),
      );
      throw err;
    }
    return verified;
  }

  /**
   * Re-reads the circuit from SQL and publishes what it says now (an access change, a reconciler
   * repair); `closed` without writing anything when it is not live. Republishes of one circuit
   * read and put one after the other, so the last one carries the latest SQL state.
   */
  republish(id: string): Promise<PublishOutcome> {
    const previous = this.republishing.get(id) ?? Promise.resolve();
    const read = previous.then(() => this.d.circuits.get(id));
    // Attached before `turn`, so the next republish reads only after this one's put is queued.
    const outcome = read.then((row) => (row && isCircuitLive(row.state) ? this.publish(row) : 'closed'));
    const turn = read.then(noop, noop);
    this.republishing.set(id, turn);
    void turn.then(() => {
      if (this.republishing.get(id) === turn) this.republishing.delete(id);
    });
    return outcome;
  }

  /**
   * Takes the spec of a closing circuit out of KV. Resolves true once the store took the delete,
   * however long it is away (the close flow waits for exactly that), false when the manager shut
   * down first. A put that overtook the retraction (an opening that had not seen the close yet)
   * is retracted again: SQL says the circuit is closing.
   */
  async retract(worker: string, id: string): Promise<boolean> {
    const key = kvKeys.circuit(worker, id);
    do {
      this.outbox.set(key, null);
      if (!(await this.outbox.settled(key))) return false;
    } while (this.outbox.get(key) !== undefined);
    return true;
  }

  /** A spec without a live circuit (`route-orphan`): retracted; rejects like `publish` when the store refuses. */
  async retractOrphan(spec: StoredSpec): Promise<void> {
    const key = kvKeys.circuit(spec.worker, spec.id);
    this.outbox.set(key, null);
    await this.outbox.settled(key, { failFast: true });
  }

  /** Every circuit spec in KV now, for comparing with SQL (the reconciler reads KV first, then SQL). */
  async stored(): Promise<StoredSpec[]> {
    const { entries } = await this.d.kv.getPrefix(kvKeys.workers());
    const out: StoredSpec[] = [];
    for (const e of entries) {
      const k = workerKeyOf(e.key);
      if (k?.kind === 'circuits') out.push({ worker: k.worker, id: k.id, value: e.value });
    }
    return out;
  }

  /** Whether a stored spec says what the circuit's SQL row says (field by field). */
  matches(row: CircuitRow, stored: StoredSpec | undefined): boolean {
    const spec = stored ? readCircuitSpec(stored.value) : null;
    return spec !== null && sameCircuitSpec(circuitSpecOf(row), spec);
  }

  /**
   * Waits for the worker's readiness mark of a published circuit: `ready`, or `error` with the
   * worker's code; a timeout, or `aborted` when `signal` fires (the circuit is being closed).
   */
  awaitReady(
    row: CircuitRow,
    opts: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<WaitOutcome<Readiness>> {
    return waitForKey<Readiness>(this.d.kv, kvKeys.ready(row.worker, row.id), {
      timeoutMs: opts.timeoutMs,
      ...(opts.signal ? { signal: opts.signal } : {}),
      match: parseReadiness,
      onWatchError: (err) => this.d.logger.warn({ err, circuit: row.id }, 'readiness watch ended; re-arming'),
    });
  }

  /**
   * Waits until the worker no longer serves a retracted circuit: it deletes its readiness mark
   * once the circuit is gone and its live connections are cut (a readiness `error` means it never
   * served it). False when `timeoutMs` passed first.
   */
  async awaitGone(worker: string, id: string, timeoutMs: number): Promise<boolean> {
    const out = await waitForKey(this.d.kv, kvKeys.ready(worker, id), {
      timeoutMs,
      match: (v) => (v === null || parseReadiness(v)?.kind === 'error' ? true : undefined),
    });
    return out.kind === 'done';
  }

  /** Stops writing (at shutdown, after the lifecycle drained); pending writes stay unwritten. */
  close(): void {
    this.outbox.close();
  }

  private async verifyOnceWritten(row: CircuitRow, key: string, value: string): Promise<PublishOutcome> {
    if (!(await this.outbox.settled(key)))
      throw new Error(`the manager shut down before the spec of circuit ${row.id} was written`);
    const desired = this.outbox.get(key);
    // Retracted meanwhile by this process (a close); a newer put is verified by its own publish.
    if (desired === null || desired === undefined) return 'closed';
    const now = await this.d.circuits.get(row.id);
    if (now && isCircuitLive(now.state)) return 'published';
    if (this.outbox.get(key) === value) this.outbox.set(key, null);
    return 'closed';
  }
}

function noop(): void {}

/** Readiness mark value → answer; undefined (keep waiting) while absent or unreadable. */
function parseReadiness(value: string | null): Readiness | undefined {
  if (value === null) return undefined;
  try {
    const r = JSON.parse(value) as CircuitReadiness;
    if (r.state === 'ready') return { kind: 'ready' };
    if (r.state === 'error') return { kind: 'error', code: String(r.code), message: String(r.message) };
  } catch {
    // A value we cannot read is not an answer; the timeout bounds the wait.
  }
  return undefined;
}
