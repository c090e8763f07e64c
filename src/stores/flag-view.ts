/**
 * Feature flags as a process sees them: the KV records of every flag (contracts/flags.ts), kept
 * by a watch, so a change reaches every manager and worker while it runs. Reading a flag is a map
 * lookup (hot paths may ask per request). Until the first snapshot — and while the store is
 * unreachable — a flag has the value it had last (its default before anything was read).
 */
import type { Logger } from 'pino';
import {
  evaluateFlag,
  type FlagName,
  type FlagRecord,
  type FlagSubject,
  isFlagName,
} from '../contracts/flags.ts';
import { kvKeys } from '../contracts/kv-layout.ts';
import { PrefixSync } from './kv-sync.ts';
import type { KvEntry, KvStore } from './types.ts';

export class FlagView {
  private readonly overrides = new Map<FlagName, Record<string, boolean>>();
  private readonly sync: PrefixSync;
  private readonly listeners = new Set<(name: FlagName) => void>();
  private synced!: () => void;
  /** Resolves once the flags were read the first time. */
  readonly firstSync = new Promise<void>((resolve) => {
    this.synced = resolve;
  });

  constructor(kv: KvStore, logger: Logger) {
    this.sync = new PrefixSync(
      kv,
      kvKeys.flags(),
      {
        onSnapshot: (entries) => {
          const seen = new Set<FlagName>();
          for (const e of entries) {
            const name = this.apply(e);
            if (name) seen.add(name);
          }
          for (const name of [...this.overrides.keys()])
            if (!seen.has(name)) {
              this.overrides.delete(name);
              this.changed(name);
            }
          this.synced();
        },
        onEvents: (events) => {
          for (const e of events) {
            if (e.type === 'put') this.apply({ key: e.key, value: e.value ?? '' });
            else {
              const name = nameOf(e.key);
              if (name && this.overrides.delete(name)) this.changed(name);
            }
          }
        },
      },
      logger.child({ component: 'flags' }),
    );
  }

  /** Reads the flags once (throws when KV does not answer), then follows their changes. */
  start(): Promise<void> {
    return this.sync.start();
  }

  /** Follows the flags, retrying in the background while KV does not answer (defaults meanwhile). */
  startInBackground(): void {
    this.sync.startInBackground();
  }

  close(): Promise<void> {
    return this.sync.close();
  }

  enabled(name: FlagName, who?: FlagSubject): boolean {
    return evaluateFlag(name, this.overrides.get(name), who);
  }

  /** Called with the flag's name after each change of its overrides; answers an unsubscribe. */
  onChange(fn: (name: FlagName) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private apply(e: Pick<KvEntry, 'key' | 'value'>): FlagName | null {
    const name = nameOf(e.key);
    if (!name) return null;
    let rec: FlagRecord;
    try {
      rec = JSON.parse(e.value) as FlagRecord;
    } catch {
      return null;
    }
    const clean: Record<string, boolean> = {};
    for (const [scope, v] of Object.entries(rec?.overrides ?? {}))
      if (typeof v === 'boolean') clean[scope] = v;
    const before = JSON.stringify(this.overrides.get(name) ?? null);
    this.overrides.set(name, clean);
    if (before !== JSON.stringify(clean)) this.changed(name);
    return name;
  }

  private changed(name: FlagName): void {
    for (const fn of this.listeners) fn(name);
  }
}

function nameOf(key: string): FlagName | null {
  const prefix = kvKeys.flags();
  if (!key.startsWith(prefix)) return null;
  const name = key.slice(prefix.length);
  return isFlagName(name) ? name : null;
}
