/**
 * Feature flags, the manager's side: the one writer of overrides (SQL, then the flag's KV record
 * through a latest-wins publisher) and of their history; answers `GET /v1/flags`. Evaluation is
 * `FlagView` (stores/flag-view.ts) over the KV projection, the same in managers and workers.
 */
import type { Logger } from 'pino';
import { AppProxyError } from '../../contracts/errors.ts';
import {
  FLAG_NAMES,
  FLAGS,
  type FlagChange,
  type FlagInfo,
  type FlagName,
  type FlagRecord,
  isFlagName,
  parseFlagScope,
} from '../../contracts/flags.ts';
import { KV_PREFIX, kvKeys } from '../../contracts/kv-layout.ts';
import { LatestWinsPublisher } from '../../stores/kv-sync.ts';
import type { KvStore } from '../../stores/types.ts';
import type { FlagOverrideRow, FlagRepo } from '../repos/flags.ts';
import { type Principal, requireAdmin } from './auth.ts';
import type { Identity } from './identity.ts';

export interface FlagServiceDeps {
  repo: FlagRepo;
  kv: KvStore;
  identity: Pick<Identity, 'resolve'>;
  logger: Logger;
}

/** Changes answered by `GET /v1/flags/changes` at most (the newest). */
const CHANGES_LIMIT = 500;

function invalid(field: string, message: string, where: 'path' | 'body' | 'query'): AppProxyError {
  return new AppProxyError('AP_ERR_VALIDATION', message, [{ field, in: where, message }]);
}

export class FlagService {
  private readonly outbox: LatestWinsPublisher;

  constructor(private readonly d: FlagServiceDeps) {
    this.outbox = new LatestWinsPublisher({ kv: d.kv, logger: d.logger, what: 'feature flag' });
  }

  close(): void {
    this.outbox.close();
  }

  async list(p: Principal): Promise<FlagInfo[]> {
    requireAdmin(p);
    const rows = await this.d.repo.overrides();
    return FLAG_NAMES.map((name) =>
      toInfo(
        name,
        rows.filter((r) => r.name === name),
      ),
    );
  }

  async get(p: Principal, name: string): Promise<FlagInfo> {
    requireAdmin(p);
    const flag = this.known(name);
    return toInfo(flag, await this.d.repo.overrides(flag));
  }

  /**
   * Sets an override (`value`) or removes one (null) at `scope` (default global), records who did
   * it, and answers once the flag's KV record holds the change — the moment managers and workers
   * start seeing it.
   */
  async change(
    p: Principal,
    name: string,
    scopeIn: string | undefined,
    value: boolean | null,
  ): Promise<FlagInfo> {
    requireAdmin(p);
    const flag = this.known(name);
    const scope = await this.scope(flag, scopeIn ?? 'global');
    await this.d.repo.change(flag, scope, value, p.userId);
    const rows = await this.d.repo.overrides(flag);
    await this.publish(flag, rows, true);
    return toInfo(flag, rows);
  }

  async changes(p: Principal, name: string | undefined): Promise<FlagChange[]> {
    requireAdmin(p);
    const flag = name === undefined ? undefined : this.known(name);
    return (await this.d.repo.changes(flag, CHANGES_LIMIT)).map((r) => ({
      id: Number(r.id),
      at: r.at.toISOString(),
      name: r.name as FlagName,
      scope: r.scope,
      value: r.value,
      previous: r.previous,
      by: r.changed_by,
      byName: r.changed_by_name,
    }));
  }

  /**
   * SQL → KV for every flag (the reconciler's pass, and at start): a record that differs is
   * rewritten, one of a flag without overrides (or of no flag) deleted. Answers the flags repaired.
   */
  async reconcile(): Promise<string[]> {
    const [rows, { entries }] = await Promise.all([
      this.d.repo.overrides(),
      this.d.kv.getPrefix(kvKeys.flags()),
    ]);
    const have = new Map(entries.map((e) => [e.key, e.value]));
    const repaired: string[] = [];
    for (const name of FLAG_NAMES) {
      const want = record(
        name,
        rows.filter((r) => r.name === name),
      );
      const key = kvKeys.flag(name);
      const value = want === null ? null : JSON.stringify(want);
      const current = have.get(key) ?? null;
      have.delete(key);
      if (current === value) continue;
      this.outbox.set(key, value, { force: true });
      repaired.push(name);
    }
    for (const key of have.keys()) {
      this.outbox.set(key, null, { force: true });
      repaired.push(key.slice(KV_PREFIX.length));
    }
    await Promise.all(
      repaired.map((n) => this.outbox.settled(isFlagName(n) ? kvKeys.flag(n) : KV_PREFIX + n)),
    );
    return repaired;
  }

  private async publish(name: FlagName, rows: FlagOverrideRow[], failFast: boolean): Promise<void> {
    const rec = record(name, rows);
    const key = kvKeys.flag(name);
    this.outbox.set(key, rec === null ? null : JSON.stringify(rec), { force: true });
    await this.outbox.settled(key, { failFast });
  }

  private known(name: string): FlagName {
    if (!isFlagName(name))
      throw new AppProxyError('AP_ERR_FLAG_NOT_FOUND', `No flag is named ${JSON.stringify(name)}.`, {
        known: FLAG_NAMES,
      });
    return name;
  }

  /** A scope the flag may be set at, with a user named by id or name stored by id. */
  private async scope(flag: FlagName, scope: string): Promise<string> {
    const s = parseFlagScope(scope);
    if (!s)
      throw invalid(
        'scope',
        'A scope is `global`, `worker:<authority>` or `user:<user id or name>`.',
        'query',
      );
    const allowed = FLAGS[flag].scopes as readonly string[];
    if (!allowed.includes(s.kind))
      throw invalid('scope', `${flag} may be set at these scopes: ${allowed.join(', ')}.`, 'query');
    if (s.kind === 'user') return `user:${(await this.d.identity.resolve(s.subject!)).id}`;
    return scope;
  }
}

function record(name: FlagName, rows: FlagOverrideRow[]): FlagRecord | null {
  if (rows.length === 0) return null;
  const overrides: Record<string, boolean> = {};
  for (const r of rows) overrides[r.scope] = r.value;
  return { name, overrides };
}

function toInfo(name: FlagName, rows: FlagOverrideRow[]): FlagInfo {
  const def = FLAGS[name];
  const global = rows.find((r) => r.scope === 'global');
  return {
    name,
    description: def.description,
    when: def.when,
    default: def.default,
    scopes: [...def.scopes],
    readBy: [...def.readBy],
    value: global ? global.value : def.default,
    overrides: rows.map((r) => ({
      scope: r.scope,
      value: r.value,
      updatedAt: r.updated_at.toISOString(),
      updatedBy: r.updated_by,
    })),
  };
}
