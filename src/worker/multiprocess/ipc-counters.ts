/**
 * The counters role across the IPC channel between a data-plane child and its primary
 * (`processes > 1`): a child has no store connection of its own, so its `CounterStore` is
 * `IpcCounterStore`, which sends each call to the primary; the primary answers with
 * `serveCounterCall` on its real store. The same contract suite as every other counters adapter
 * runs against this pair (over a JSON round trip, as the IPC channel serializes).
 */
import type { CounterOp, CounterStore } from '../../stores/types.ts';

/** A counters call, child → primary. */
export interface CounterCall {
  t: 'counters';
  seq: number;
  method: keyof CounterStore;
  args: unknown[];
}

/** Its answer, primary → child: the value, or the error's message. */
export interface CounterResult {
  t: 'counters-result';
  seq: number;
  value?: unknown;
  error?: string;
}

/** The calls a child may make (`close` is the child's own business). */
const METHODS: ReadonlySet<string> = new Set([
  'incr',
  'get',
  'mget',
  'keys',
  'set',
  'setIfAbsent',
  'delete',
  'batch',
]);

/** The primary's side: runs one call on the real store and answers through `reply`. */
export async function serveCounterCall(
  store: CounterStore,
  m: CounterCall,
  reply: (r: CounterResult) => void,
): Promise<void> {
  try {
    if (!METHODS.has(m.method)) throw new Error(`not a counters call: ${String(m.method)}`);
    const fn = store[m.method] as (...a: unknown[]) => Promise<unknown>;
    // The channel turns an omitted argument (`incr(key)`'s `by`) into null; no counters method
    // takes a null, so null is "not given" again here (else `by` would be null, not 1).
    const args = m.args.map((a) => (a === null ? undefined : a));
    const value = await fn.apply(store, args);
    reply({ t: 'counters-result', seq: m.seq, value });
  } catch (err) {
    reply({ t: 'counters-result', seq: m.seq, error: String((err as Error)?.message ?? err) });
  }
}

/** The child's side: every call goes to the primary; `settle` hands in the answers. */
export class IpcCounterStore implements CounterStore {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(
    private readonly send: (m: CounterCall) => void,
    private readonly connected: () => boolean,
  ) {}

  private call<T>(method: keyof CounterStore, args: unknown[]): Promise<T> {
    const seq = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      if (!this.connected()) return reject(new Error('primary is gone'));
      this.pending.set(seq, { resolve: resolve as (v: unknown) => void, reject });
      this.send({ t: 'counters', seq, method, args });
    });
  }

  settle(m: CounterResult): void {
    const p = this.pending.get(m.seq);
    this.pending.delete(m.seq);
    if (!p) return;
    if (m.error !== undefined) p.reject(new Error(m.error));
    else p.resolve(m.value);
  }

  incr(key: string, by?: number, ttlMs?: number) {
    return this.call<number>('incr', [key, by, ttlMs]);
  }
  get(key: string) {
    return this.call<string | null>('get', [key]);
  }
  mget(keys: string[]) {
    return this.call<(string | null)[]>('mget', [keys]);
  }
  keys(prefix: string) {
    return this.call<string[]>('keys', [prefix]);
  }
  set(key: string, value: string, ttlMs?: number) {
    return this.call<void>('set', [key, value, ttlMs]);
  }
  setIfAbsent(key: string, value: string, ttlMs: number) {
    return this.call<boolean>('setIfAbsent', [key, value, ttlMs]);
  }
  delete(key: string) {
    return this.call<void>('delete', [key]);
  }
  batch(ops: CounterOp[]) {
    return this.call<void>('batch', [ops]);
  }
  async close() {}
}
