/**
 * Feature flags, the manager's side: the one writer of overrides (SQL, then each override's own KV record
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
  type FlagOverrideRecord,
  isFlagName,
  parseFlagScope,
} from '../../contracts/flags.ts';
import { kvKeys } from '../../contracts/kv-layout.ts';
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
    await this.publish(flag, scope, value);
    return toInfo(flag, await this.d.repo.overrides(flag));
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
   * SQL → KV for every override (the reconciler's pass): a record that differs is rewritten, one
   * SQL does not hold deleted. Answers the records repaired (`<flag>/<scope>`).
   */
  async reconcile(): Promise<string[]> {
    const prefix = kvKeys.flags();
    // KV first, then SQL: a record in the KV snapshot was written after its SQL change.
    const { entries } = await this.d.kv.getPrefix(prefix);
    const rows = await this.d.repo.overrides();
    const want = new Map(rows.map((r) => [kvKeys.flagOverride(r.name, r.scope), recordOf(r.value)]));
    const have = new Map(entries.map((e) => [e.key, e.value]));
    const repaired: string[] = [];
    for (const key of have.keys()) {
      if (want.has(key)) continue;
      this.outbox.set(key, null, { force: true });
      repaired.push(key);
    }
    for (const [key, value] of want) {
      if (have.get(key) === value) continue;
      this.outbox.set(key, value, { force: true });
      repaired.push(key);
    }
    await Promise.all(repaired.map((k) => this.outbox.settled(k)));
    return repaired.map((k) => k.slice(prefix.length));
  }

  /** One override's record to KV (null: removed); answers once KV holds it. */
  private async publish(name: FlagName, scope: string, value: boolean | null): Promise<void> {
    const key = kvKeys.flagOverride(name, scope);
    this.outbox.set(key, value === null ? null : recordOf(value), { force: true });
    await this.outbox.settled(key, { failFast: true });
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

function recordOf(value: boolean): string {
  const rec: FlagOverrideRecord = { value };
  return JSON.stringify(rec);
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
