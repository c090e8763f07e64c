/**
 * `processes > 1`: the primary keeps the control source (KV), registration and readiness, and serves
 * too; N−1 data-plane children (`data-plane-child.ts`, forked with the same loader) each run a
 * full data plane listening on the same ports with SO_REUSEPORT, so the kernel spreads
 * connections across every process. Protocol over the IPC channel (JSON):
 *   primary → child: init, apply{seq,id,raw}, remove{id}, keys{set}, revocation{op}, login-url{url},
 *                    endpoint-keys{op}, flags{values}, close{seq}
 *   child → primary: ready, ack{seq,error?}, counters{seq,method,args} (answered with result)
 * A change is applied in the primary first, then in every child; `apply` resolves only once
 * every child applied it, so the readiness mark the control source writes afterwards still means
 * "served by every process". Activity: each child flushes through the primary's counter store
 * with its own reporter key (`<authority>:<child pid>`), so open connections sum across processes.
 * Revocations: the primary's set decides (its source feeds it) and sends each decision — a record
 * added or removed, a confirmation — to every child, whose set applies it as is; a record that
 * arrives ends the matching live connections of whichever process holds them. A child that dies
 * is forked again and given the current revocation set, keys and table.
 */
import { type ChildProcess, fork } from 'node:child_process';
import type { Logger } from 'pino';
import { AppProxyError, type ErrorCode } from '../../contracts/errors.ts';
import type { SetupTokenKeySet } from '../../contracts/kv-layout.ts';
import { SetupTokenVerifier } from '../../core/setup-token.ts';
import type { CounterStore } from '../../stores/types.ts';
import type { EndpointKeyOp, EndpointKeys } from '../access/endpoint-keys.ts';
import { type RevocationOp, RevocationSet, type RevocationSetOptions } from '../access/revocations.ts';
import type { FlagValues } from '../control/flags.ts';
import { RoutingTable, type RoutingTableOptions } from '../routing/routing-table.ts';
import type { DataPlaneConfig } from './data-plane.ts';
import { type CounterCall, type CounterResult, serveCounterCall } from './ipc-counters.ts';

export type ToChild =
  | { t: 'init'; cfg: Omit<DataPlaneConfig, 'cookieSecret'> & { cookieSecret: string }; logLevel: string }
  | { t: 'apply'; seq: number; id: string; raw: string }
  | { t: 'remove'; id: string }
  | { t: 'keys'; set: SetupTokenKeySet }
  | { t: 'revocation'; op: RevocationOp }
  | { t: 'login-url'; url: string | null }
  | { t: 'endpoint-keys'; op: EndpointKeyOp }
  | { t: 'flags'; values: FlagValues }
  | { t: 'close'; seq: number }
  | CounterResult;

export type FromChild =
  | { t: 'ready' }
  | { t: 'ack'; seq: number; error?: { code: ErrorCode; message: string } }
  | CounterCall;

const CHILD_ENTRY = new URL('./data-plane-child.ts', import.meta.url);
const CLOSE_TIMEOUT_MS = 10_000;

/** Loader flags for the child: the parent's (minus test-runner/inspector ones) plus tsx. */
function childExecArgv(): string[] {
  const out: string[] = [];
  for (const a of process.execArgv) {
    if (a.startsWith('--test') || a.startsWith('--inspect') || a.startsWith('--watch')) continue;
    out.push(a);
  }
  out.push('--import', import.meta.resolve('tsx'));
  return out;
}

class Child {
  proc: ChildProcess;
  private seq = 0;
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  readonly ready: Promise<void>;

  constructor(owner: DataPlaneChildren, init: ToChild) {
    this.proc = fork(CHILD_ENTRY, [], {
      execArgv: childExecArgv(),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.ready = new Promise((resolve, reject) => {
      const onExit = (code: number | null) =>
        reject(new Error(`data-plane child exited (${code}) during start`));
      this.proc.once('exit', onExit);
      this.proc.on('message', (m: FromChild) => {
        if (m.t === 'ready') {
          this.proc.off('exit', onExit);
          resolve();
        } else if (m.t === 'ack') {
          const p = this.pending.get(m.seq);
          this.pending.delete(m.seq);
          if (!p) return;
          if (m.error) p.reject(new AppProxyError(m.error.code, m.error.message));
          else p.resolve();
        } else if (m.t === 'counters') void serveCounterCall(owner.counters, m, (r) => this.send(r));
      });
    });
    this.ready.catch(() => {});
    this.proc.once('exit', () => {
      for (const p of this.pending.values()) p.reject(new Error('data-plane child exited'));
      this.pending.clear();
    });
    this.send(init);
  }

  send(m: ToChild): void {
    if (this.proc.connected) this.proc.send(m);
  }

  /** Sends a message that the child acknowledges; rejects with the child's error. */
  call(m: { t: 'apply'; id: string; raw: string } | { t: 'close' }): Promise<void> {
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      if (!this.proc.connected) return reject(new Error('data-plane child is gone'));
      this.pending.set(seq, { resolve, reject });
      this.send({ ...m, seq } as ToChild);
    });
  }
}

export class DataPlaneChildren {
  private readonly children: Child[] = [];
  private closing = false;
  /** What every child must serve: id → raw, in apply order (replayed to a re-forked child). */
  private readonly routes = new Map<string, string>();
  private keys: SetupTokenKeySet | null = null;
  private loginUrl: string | null = null;
  private flags: FlagValues | null = null;
  /** The primary's revocation set, replayed to a re-forked child. */
  revocations: RevocationSet | null = null;
  /** The primary's endpoint keys, replayed to a re-forked child. */
  endpointKeys: EndpointKeys | null = null;
  private init: ToChild | null = null;

  constructor(
    private readonly count: number,
    readonly counters: CounterStore,
    private readonly logger: Logger,
  ) {}

  async start(init: ToChild): Promise<void> {
    this.init = init;
    for (let i = 0; i < this.count; i++) this.children.push(this.spawn());
    await Promise.all(this.children.map((c) => c.ready));
  }

  private spawn(): Child {
    const c = new Child(this, this.init!);
    c.proc.once('exit', (code, signal) => {
      if (this.closing) return;
      this.logger.error({ pid: c.proc.pid, code, signal }, 'data-plane child exited; forking again');
      const i = this.children.indexOf(c);
      const next = this.spawn();
      if (i >= 0) this.children[i] = next;
      void next.ready.then(() => {
        if (this.keys) next.send({ t: 'keys', set: this.keys });
        next.send({ t: 'login-url', url: this.loginUrl });
        if (this.flags) next.send({ t: 'flags', values: this.flags });
        // Revocations before routes: no connection is served before they are known.
        for (const op of this.revocations?.replay() ?? []) next.send({ t: 'revocation', op });
        for (const op of this.endpointKeys?.replay() ?? []) next.send({ t: 'endpoint-keys', op });
        for (const [id, raw] of this.routes) next.call({ t: 'apply', id, raw }).catch(() => {});
      });
    });
    return c;
  }

  pids(): number[] {
    return this.children.map((c) => c.proc.pid!);
  }

  /** Applies in every child; rejects with the first child's error (the primary then removes it). */
  async apply(id: string, raw: string): Promise<void> {
    this.routes.set(id, raw);
    await Promise.all(this.children.map((c) => c.call({ t: 'apply', id, raw })));
  }

  remove(id: string): void {
    this.routes.delete(id);
    for (const c of this.children) c.send({ t: 'remove', id });
  }

  updateKeys(set: SetupTokenKeySet): void {
    this.keys = set;
    for (const c of this.children) c.send({ t: 'keys', set });
  }

  updateRevocations(op: RevocationOp): void {
    for (const c of this.children) c.send({ t: 'revocation', op });
  }

  /** Every change of the primary's endpoint keys goes to every child. */
  replicateEndpointKeys(keys: EndpointKeys): void {
    this.endpointKeys = keys;
    keys.onChange = (op) => {
      for (const c of this.children) c.send({ t: 'endpoint-keys', op });
    };
  }

  /** The flags as the primary evaluated them for this worker: every child uses the same values. */
  updateFlags(values: FlagValues): void {
    this.flags = values;
    for (const c of this.children) c.send({ t: 'flags', values });
  }

  updateLoginUrl(url: string | null): void {
    this.loginUrl = url;
    for (const c of this.children) c.send({ t: 'login-url', url });
  }

  /** Children close their listeners and circuits, flush activity through us, and exit. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.children.map(async (c) => {
        const exited = new Promise<void>((r) => {
          if (c.proc.exitCode !== null || c.proc.signalCode !== null) r();
          else c.proc.once('exit', () => r());
        });
        const timer = setTimeout(() => c.proc.kill('SIGKILL'), CLOSE_TIMEOUT_MS);
        await c.call({ t: 'close' }).catch(() => {});
        c.proc.disconnect?.();
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}

/** The primary's routing table: every change also goes to the children before it counts as done. */
export class ReplicatedTable extends RoutingTable {
  constructor(
    opts: RoutingTableOptions,
    private readonly children: DataPlaneChildren,
  ) {
    super(opts);
  }

  override async apply(id: string, raw: string): Promise<boolean> {
    let changed: boolean;
    try {
      changed = await super.apply(id, raw);
    } catch (err) {
      this.children.remove(id); // a failed replacement removed the previous version here
      throw err;
    }
    if (!changed) return false;
    try {
      await this.children.apply(id, raw);
    } catch (err) {
      super.remove(id);
      this.children.remove(id);
      throw err;
    }
    return true;
  }

  override remove(id: string): boolean {
    this.children.remove(id);
    return super.remove(id);
  }
}

/** The primary's verifier: key-set updates also go to the children. */
export class ReplicatedVerifier extends SetupTokenVerifier {
  constructor(private readonly children: DataPlaneChildren) {
    super();
  }

  override update(keySet: SetupTokenKeySet): void {
    super.update(keySet);
    this.children.updateKeys(keySet);
  }
}

/** The primary's revocation set: each decision also goes to the children. */
export class ReplicatedRevocations extends RevocationSet {
  constructor(
    opts: RevocationSetOptions,
    private readonly children: DataPlaneChildren,
  ) {
    super(opts);
    children.revocations = this;
  }

  protected override replicate(op: RevocationOp): void {
    this.children.updateRevocations(op);
  }
}
