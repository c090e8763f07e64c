/**
 * The feature flags a worker's data plane reads, evaluated for this worker (its authority): a
 * plain record the hot path reads without a lookup or an allocation. The primary keeps it from
 * its `FlagView` watch; a data-plane child gets the evaluated values from the primary over IPC
 * (it has no store connection), so every process of a worker changes together.
 */
import { FLAG_NAMES, FLAGS, type FlagName } from '../../contracts/flags.ts';
import type { FlagView } from '../../stores/flag-view.ts';

export type FlagValues = Record<FlagName, boolean>;

export function defaultFlagValues(): FlagValues {
  const out = {} as FlagValues;
  for (const name of FLAG_NAMES) out[name] = FLAGS[name].default;
  return out;
}

export class WorkerFlags {
  private current: FlagValues = defaultFlagValues();
  private readonly listeners = new Set<(values: FlagValues) => void>();

  enabled(name: FlagName): boolean {
    return this.current[name];
  }

  values(): FlagValues {
    return { ...this.current };
  }

  /** The values of the flags workers read (what `/readyz` shows). */
  workerValues(): Partial<FlagValues> {
    const out: Partial<FlagValues> = {};
    for (const name of FLAG_NAMES)
      if ((FLAGS[name].readBy as readonly string[]).includes('worker')) out[name] = this.current[name];
    return out;
  }

  /** New values (from the watch, or from the primary): listeners hear of it when one changed. */
  set(values: Partial<FlagValues>): void {
    const next = { ...this.current };
    let changed = false;
    for (const name of FLAG_NAMES) {
      const v = values[name];
      if (typeof v !== 'boolean' || v === next[name]) continue;
      next[name] = v;
      changed = true;
    }
    if (!changed) return;
    this.current = next;
    for (const fn of this.listeners) fn(this.values());
  }

  onChange(fn: (values: FlagValues) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

/** Keeps `flags` evaluated for `authority` from `view`, now and on every change; answers a stop. */
export function followFlags(view: FlagView, authority: string, flags: WorkerFlags): () => void {
  const evaluate = () => {
    const out = {} as FlagValues;
    for (const name of FLAG_NAMES) out[name] = view.enabled(name, { worker: authority });
    flags.set(out);
  };
  evaluate();
  return view.onChange(evaluate);
}
