/**
 * The worker's side of the control plane, all over the KV store (etcd role) with the kit of
 * `stores/kv-sync.ts`:
 * - what it must serve: its circuit specs (a prefix snapshot applied to the routing table, then a
 *   watch that resumes from the last revision it received after an outage; only a compacted
 *   revision makes it re-snapshot and diff against the table — nothing lost, nothing re-done) and
 *   the setup-token public keys, fed to the verifier;
 * - what it answers: its registration under a lease (re-granted and re-put when lost) and a
 *   readiness mark per circuit (`ready`, or `error` with the code), written under that lease by a
 *   latest-wins publisher, so a slow store never blocks routing and a put can never land after the
 *   delete that followed it.
 * Changes reach the table one at a time, in revision order. If the store vanishes the table keeps
 * serving what it last knew.
 */
import { importJWK, type JWK } from 'jose';
import type { Logger } from 'pino';
import type { CircuitReadiness } from '../../contracts/circuit-spec.ts';
import { AppProxyError } from '../../contracts/errors.ts';
import { kvKeys, type SetupTokenKeySet, type WorkerRegistration } from '../../contracts/kv-layout.ts';
import type { SetupTokenVerifier } from '../../core/setup-token.ts';
import { LatestWinsPublisher, LeasedRegistration, PrefixSync } from '../../stores/kv-sync.ts';
import type { KvEntry, KvEvent, KvStore } from '../../stores/types.ts';
import type { RoutingTable } from '../routing/routing-table.ts';

export interface ControlSourceOptions {
  kv: KvStore;
  authority: string;
  leaseTtlMs: number;
  registration: () => WorkerRegistration;
  table: RoutingTable;
  verifier: SetupTokenVerifier;
  logger: Logger;
}

export class ControlSource {
  private readonly circuitsPrefix: string;
  private readonly circuits: PrefixSync;
  private readonly keys: PrefixSync;
  private readonly registration: LeasedRegistration;
  /** Serializes table changes in revision order. */
  private chain: Promise<void> = Promise.resolve();
  /** The readiness this worker last decided per circuit (what the publisher is writing). */
  private readonly marks = new Map<string, CircuitReadiness>();
  private readonly publisher: LatestWinsPublisher;
  private keysSeq = 0;

  constructor(private readonly opts: ControlSourceOptions) {
    const { kv, authority, logger } = opts;
    this.circuitsPrefix = kvKeys.circuits(authority);
    this.circuits = new PrefixSync(
      kv,
      this.circuitsPrefix,
      {
        onSnapshot: (entries) => this.enqueue(() => this.applySnapshot(entries)),
        onEvents: (events) => void this.enqueue(() => this.applyEvents(events)),
      },
      logger,
    );
    const keysKey = kvKeys.setupTokenKeys();
    this.keys = new PrefixSync(
      kv,
      keysKey,
      {
        onSnapshot: (entries) => this.applyKeys(entries.find((e) => e.key === keysKey)?.value ?? null),
        onEvents: (events) => {
          for (const e of events) if (e.key === keysKey) void this.applyKeys(e.value);
        },
      },
      logger,
    );
    this.registration = new LeasedRegistration({
      kv,
      key: kvKeys.registration(authority),
      value: (leaseTtlMs) =>
        JSON.stringify({ ...opts.registration(), leaseTtlMs } satisfies WorkerRegistration),
      ttlMs: opts.leaseTtlMs,
      logger,
      // Marks live under the lease: a new lease means they are gone and must be written again.
      onRegistered: () => this.publisher.republishAll(),
    });
    this.publisher = new LatestWinsPublisher({
      kv,
      logger,
      what: 'readiness mark',
      lease: () => this.registration.lease,
    });
  }

  async start(): Promise<void> {
    await this.registration.start();
    await this.keys.start();
    await this.circuits.start();
  }

  /** How far the circuits watch is: its revision, whether it is established, failed attempts. */
  syncStatus(): { revision: number; watching: boolean; failures: number } {
    const c = this.circuits;
    return { revision: c.lastRevision, watching: c.watching, failures: c.failures };
  }

  /** Stops watching and revokes the lease (which drops the registration and readiness marks). */
  async close(): Promise<void> {
    await Promise.all([this.circuits.close(), this.keys.close()]);
    await this.chain.catch(() => {});
    this.publisher.close();
    await this.registration.close();
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch((err: unknown) => this.opts.logger.error({ err }, 'circuit change failed'));
    return run;
  }

  // ------------------------------------------------------------------ circuits

  private idOf(key: string): string {
    return key.slice(this.circuitsPrefix.length);
  }

  private async applySnapshot(entries: KvEntry[]): Promise<void> {
    const seen = new Set<string>();
    for (const e of entries) {
      const id = this.idOf(e.key);
      if (id === '' || id.includes('/')) continue;
      seen.add(id);
      await this.put(id, e.value);
    }
    for (const id of [...this.opts.table.ids()]) if (!seen.has(id)) this.remove(id);
    // Error marks of circuits that left while the watch was down.
    for (const id of [...this.marks.keys()]) if (!seen.has(id)) this.remove(id);
  }

  private async applyEvents(events: KvEvent[]): Promise<void> {
    for (const e of events) {
      const id = this.idOf(e.key);
      if (id === '' || id.includes('/')) continue;
      if (e.type === 'put') await this.put(id, e.value ?? '');
      else this.remove(id);
    }
  }

  private async put(id: string, raw: string): Promise<void> {
    try {
      const changed = await this.opts.table.apply(id, raw);
      if (changed || this.marks.get(id)?.state !== 'ready')
        this.mark(id, { state: 'ready', at: new Date().toISOString() });
    } catch (err) {
      const e =
        err instanceof AppProxyError
          ? err
          : new AppProxyError('AP_ERR_ROUTE_INVALID', undefined, undefined, { cause: err });
      this.opts.logger.warn({ circuitId: id, code: e.code, err: e }, 'circuit cannot be served');
      this.mark(id, { state: 'error', code: e.code, message: e.message, at: new Date().toISOString() });
    }
  }

  private remove(id: string): void {
    this.opts.table.remove(id);
    if (this.marks.has(id)) this.mark(id, null);
  }

  // ------------------------------------------------------------------ readiness

  private mark(id: string, r: CircuitReadiness | null): void {
    if (r) this.marks.set(id, r);
    else this.marks.delete(id);
    this.publisher.set(kvKeys.ready(this.opts.authority, id), r ? JSON.stringify(r) : null);
  }

  // ------------------------------------------------------------------ setup-token keys

  /**
   * Checks every key imports before handing the set to the verifier (which would otherwise hold a
   * rejected import until the next verify). Updates apply in order; a stale one is dropped.
   */
  private async applyKeys(raw: string | null): Promise<void> {
    const seq = ++this.keysSeq;
    if (raw === null) {
      this.opts.verifier.update({ keys: [] });
      return;
    }
    try {
      const set = JSON.parse(raw) as SetupTokenKeySet;
      if (!Array.isArray(set.keys)) throw new Error('keys is not an array');
      for (const k of set.keys) {
        if (typeof k?.kid !== 'string') throw new Error('a key has no kid');
        await importJWK(k as JWK, 'EdDSA');
      }
      if (seq === this.keysSeq) this.opts.verifier.update(set);
    } catch (err) {
      this.opts.logger.error({ err }, 'setup-token key set is malformed; keeping the previous keys');
    }
  }
}
