/**
 * The one writer of revocation records (`contracts/auth.ts`): SQL first (the truth), then their
 * projection into KV (`kvKeys.revocation(id)`), through an outbox (`LatestWinsPublisher`), so a
 * revocation made while etcd is away is not lost: it lands as soon as the store answers. Workers
 * watch the prefix and enforce each record locally (no store call per request).
 *
 * A record expires when no credential it can refuse is valid any more (see `expiryFor`); the
 * reconciler calls `reconcile()` to put records KV lost, delete records SQL does not hold (or that
 * expired) and drop expired rows, so the set workers hold stays small.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { parseRevocation, type RevocationKind, type RevocationRecord } from '../../contracts/auth.ts';
import { KV_PREFIX, kvKeys } from '../../contracts/kv-layout.ts';
import { sleep } from '../../core/backoff.ts';
import { LatestWinsPublisher } from '../../stores/kv-sync.ts';
import type { KvStore } from '../../stores/types.ts';
import type { RevocationRepo } from '../repos/revocations.ts';

/** Setup and tunnel tokens live at most this long: a revocation outlives any it could refuse. */
const TOKEN_LIFETIME_MS = 60_000;

export interface RevocationServiceDeps {
  kv: KvStore;
  repo: RevocationRepo;
  logger: Logger;
  /** The longest an app cookie lives (what `user` and `circuit` records must outlast). */
  appCookieTtlMs: number;
  /** How long `revoke` waits for KV to take a record before answering (it keeps trying after). */
  projectWaitMs?: number;
}

export interface RevokeInput {
  kind: RevocationKind;
  subject: string;
  reason: string;
  /** When the revoked grant would have ended anyway (its expiry): the record need not outlive it. */
  grantExpiresAt?: number | null;
  by?: string | null;
}

export class RevocationService {
  private readonly outbox: LatestWinsPublisher;

  constructor(private readonly d: RevocationServiceDeps) {
    this.outbox = new LatestWinsPublisher({ kv: d.kv, logger: d.logger, what: 'revocation' });
  }

  /**
   * When a record made now may go: once no cookie issued before it can be valid (the cookie
   * lifetime), and never before the last setup or tunnel token minted under the grant expired.
   * A grant that ends earlier (a login session's expiry) bounds it further.
   */
  expiryFor(now: number, grantExpiresAt?: number | null): number {
    let until = now + this.d.appCookieTtlMs;
    if (grantExpiresAt !== undefined && grantExpiresAt !== null) until = Math.min(until, grantExpiresAt);
    return Math.max(until, now + TOKEN_LIFETIME_MS);
  }

  /**
   * Records a revocation and projects it; resolves once KV took it, or after `projectWaitMs` (the
   * outbox keeps writing: SQL already holds it, and the reconciler re-puts it if this manager dies).
   */
  async revoke(input: RevokeInput): Promise<RevocationRecord> {
    const now = Date.now();
    const record: RevocationRecord = {
      id: randomUUID(),
      kind: input.kind,
      subject: input.subject,
      at: now,
      expiresAt: this.expiryFor(now, input.grantExpiresAt),
      reason: input.reason,
    };
    await this.d.repo.insert(record, input.by ?? null);
    const key = kvKeys.revocation(record.id);
    this.outbox.set(key, JSON.stringify(record));
    const landed = await Promise.race([
      this.outbox.settled(key),
      sleep(this.d.projectWaitMs ?? 3000).then(() => false),
    ]);
    if (!landed)
      this.d.logger.warn(
        { revocation: record.id, kind: record.kind },
        'revocation recorded; KV has not taken it yet (it is retried until it does)',
      );
    this.d.logger.info(
      { revocation: record.id, kind: record.kind, subject: record.subject, reason: record.reason },
      'revoked',
    );
    return record;
  }

  /**
   * Makes KV hold exactly the live records of SQL (reconciler). Returns what it changed: records
   * put again (`missing`), records deleted (`orphan`: not in SQL, or expired) and SQL rows dropped.
   */
  async reconcile(): Promise<{ missing: string[]; orphan: string[]; expired: number }> {
    const prefix = kvKeys.revocations();
    // KV first, then SQL: a record in the KV snapshot was inserted into SQL before it was put.
    const { entries } = await this.d.kv.getPrefix(prefix);
    const expired = (await this.d.repo.deleteExpired()).length;
    const live = await this.d.repo.live();
    const want = new Map(live.map((r) => [kvKeys.revocation(r.id), r]));
    const missing: string[] = [];
    const orphan: string[] = [];
    const have = new Set<string>();
    for (const e of entries) {
      have.add(e.key);
      const rec = parseRevocation(e.value);
      if (!want.has(e.key) || !rec || rec.expiresAt <= Date.now()) {
        this.outbox.set(e.key, null);
        orphan.push(e.key.slice(KV_PREFIX.length));
      }
    }
    for (const [key, r] of want) {
      if (have.has(key)) continue;
      this.outbox.set(key, JSON.stringify(r));
      missing.push(r.id);
    }
    await Promise.all(
      [...missing.map((id) => kvKeys.revocation(id)), ...orphan.map((k) => KV_PREFIX + k)].map((k) =>
        this.outbox.settled(k),
      ),
    );
    return { missing, orphan, expired };
  }

  close(): void {
    this.outbox.close();
  }
}
