/**
 * A worker that speaks exactly the KV protocol of the real one, and nothing else: it registers
 * under a lease, snapshots then watches its circuits prefix (re-snapshotting when the watch dies),
 * answers each circuit at its readiness key (under the lease), and deletes that key when the
 * circuit's CircuitSpec is deleted. It serves no traffic. It tests the manager's side of the protocol.
 */

import type { CircuitReadiness, CircuitSpec } from '../../../src/contracts/circuit-spec.ts';
import { kvKeys, type WorkerRegistration } from '../../../src/contracts/kv-layout.ts';
import type { KvEvent, KvLease, KvStore, KvWatcher } from '../../../src/stores/types.ts';

export type FakeWorkerBehavior =
  | { kind: 'ready'; delayMs?: number }
  | { kind: 'error'; code: string; message: string }
  /** Never answers readiness (the manager must time out). */
  | { kind: 'silent' };

export interface FakeWorkerEvent {
  at: number;
  type: 'route-added' | 'route-removed';
  circuitId: string;
  sessionId: string | null;
}

export class FakeWorker {
  readonly routes = new Map<string, CircuitSpec>();
  readonly events: FakeWorkerEvent[] = [];
  behavior: FakeWorkerBehavior = { kind: 'ready' };
  /** Delay before the readiness key is deleted after a close (simulates cutting connections). */
  closeDelayMs = 0;
  /** When true, readiness keys are never deleted on close (a worker that hangs while closing). */
  hangOnClose = false;
  private lease: KvLease | undefined;
  private watcher: KvWatcher | undefined;
  private stopped = false;
  readonly registration: WorkerRegistration;

  constructor(
    private readonly kv: KvStore,
    reg: Partial<WorkerRegistration> & { authority: string },
  ) {
    const mode = reg.frontendMode ?? 'port';
    this.registration = {
      frontendMode: mode,
      protocols: ['http', 'tcp'],
      portRange: mode === 'port' ? [20000, 20099] : null,
      wildcardDomain: mode === 'wildcard' ? 'apps.example.test' : null,
      publicScheme: 'http',
      publicHost: '127.0.0.1',
      publicPort: null,
      startedAt: new Date().toISOString(),
      ...reg,
    };
  }

  get authority(): string {
    return this.registration.authority;
  }

  get leaseId(): string | undefined {
    return this.lease?.id;
  }

  async start(): Promise<void> {
    this.lease = await this.kv.grantLease(5000);
    await this.kv.put(kvKeys.registration(this.authority), JSON.stringify(this.registration), {
      lease: this.lease.id,
    });
    await this.resync();
  }

  /** Stops like a process that exits cleanly: the lease goes, and with it registration and readiness keys. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.watcher?.close();
    await this.lease?.revoke();
  }

  private scheduleResync(): void {
    setTimeout(() => {
      if (!this.stopped) this.resync().catch(() => this.scheduleResync());
    }, 50).unref();
  }

  private async resync(): Promise<void> {
    if (this.stopped) return;
    const { entries, revision } = await this.kv.getPrefix(kvKeys.circuits(this.authority));
    const present = new Set<string>();
    for (const e of entries) {
      const spec = JSON.parse(e.value) as CircuitSpec;
      present.add(spec.id);
      if (!this.routes.has(spec.id)) this.add(spec);
    }
    for (const id of [...this.routes.keys()]) if (!present.has(id)) this.remove(id);
    this.watcher = await this.kv.watch(kvKeys.circuits(this.authority), revision, {
      onEvents: (events) => this.onEvents(events),
      onError: () => {
        this.watcher = undefined;
        this.scheduleResync();
      },
    });
  }

  private onEvents(events: KvEvent[]): void {
    for (const e of events) {
      const id = e.key.slice(kvKeys.circuits(this.authority).length);
      if (e.type === 'put') this.add(JSON.parse(e.value!) as CircuitSpec);
      else this.remove(id);
    }
  }

  private add(spec: CircuitSpec): void {
    this.routes.set(spec.id, spec);
    this.events.push({ at: Date.now(), type: 'route-added', circuitId: spec.id, sessionId: spec.sessionId });
    const b = this.behavior;
    if (b.kind === 'silent') return;
    const answer: CircuitReadiness =
      b.kind === 'ready'
        ? { state: 'ready', at: new Date().toISOString() }
        : { state: 'error', code: b.code, message: b.message, at: new Date().toISOString() };
    const write = () => {
      if (this.stopped || !this.routes.has(spec.id)) return;
      void this.kv
        .put(kvKeys.ready(this.authority, spec.id), JSON.stringify(answer), { lease: this.lease!.id })
        .catch(() => {});
    };
    if (b.kind === 'ready' && b.delayMs) setTimeout(write, b.delayMs);
    else write();
  }

  private remove(id: string): void {
    const spec = this.routes.get(id);
    this.routes.delete(id);
    this.events.push({
      at: Date.now(),
      type: 'route-removed',
      circuitId: id,
      sessionId: spec?.sessionId ?? null,
    });
    if (this.hangOnClose) return;
    const del = () => {
      if (!this.stopped) void this.kv.delete(kvKeys.ready(this.authority, id)).catch(() => {});
    };
    if (this.closeDelayMs > 0) setTimeout(del, this.closeDelayMs);
    else del();
  }
}
