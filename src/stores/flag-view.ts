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
  type FlagOverrideRecord,
  type FlagSubject,
  isFlagName,
  parseFlagScope,
} from '../contracts/flags.ts';
import { kvKeys } from '../contracts/kv-layout.ts';
import { PrefixSync } from './kv-sync.ts';
import type { KvStore } from './types.ts';

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
          const next = new Map<FlagName, Record<string, boolean>>();
          for (const e of entries) {
            const o = parse(e.key, e.value);
            if (!o) continue;
            const m = next.get(o.name) ?? {};
            m[o.scope] = o.value;
            next.set(o.name, m);
          }
          const names = new Set<FlagName>([...this.overrides.keys(), ...next.keys()]);
          for (const name of names) {
            const before = JSON.stringify(sorted(this.overrides.get(name)));
            const after = next.get(name);
            if (after) this.overrides.set(name, after);
            else this.overrides.delete(name);
            if (before !== JSON.stringify(sorted(after))) this.changed(name);
          }
          this.synced();
        },
        onEvents: (events) => {
          for (const e of events) {
            const where = locate(e.key);
            if (!where) continue;
            const m = this.overrides.get(where.name) ?? {};
            const before = m[where.scope];
            if (e.type === 'put') {
              const o = parse(e.key, e.value ?? '');
              if (!o) continue;
              m[where.scope] = o.value;
            } else delete m[where.scope];
            if (Object.keys(m).length === 0) this.overrides.delete(where.name);
            else this.overrides.set(where.name, m);
            if (before !== m[where.scope]) this.changed(where.name);
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

  private changed(name: FlagName): void {
    for (const fn of this.listeners) fn(name);
  }
}

/** The flag and scope a key under `flags/` names (null: not a known flag's override). */
function locate(key: string): { name: FlagName; scope: string } | null {
  const prefix = kvKeys.flags();
  if (!key.startsWith(prefix)) return null;
  const rest = key.slice(prefix.length);
  const slash = rest.indexOf('/');
  if (slash < 0) return null;
  const name = rest.slice(0, slash);
  const scope = rest.slice(slash + 1);
  return isFlagName(name) && parseFlagScope(scope) ? { name, scope } : null;
}

function parse(key: string, value: string): { name: FlagName; scope: string; value: boolean } | null {
  const where = locate(key);
  if (!where) return null;
  try {
    const rec = JSON.parse(value) as FlagOverrideRecord;
    return typeof rec?.value === 'boolean' ? { ...where, value: rec.value } : null;
  } catch {
    return null;
  }
}

function sorted(o: Record<string, boolean> | undefined): [string, boolean][] {
  return Object.entries(o ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
