/**
 * How revocations reach the worker, beside `ControlSource` (source.ts) and on the same KV kit:
 * - the revocation records (`kvKeys.revocations()`): a snapshot, then a watch that resumes from
 *   the last revision after an outage (`PrefixSync`), each change handed to the revocation set
 *   with its revision;
 * - a confirmation loop: every `confirmIntervalMs` the prefix is read again and applied as a
 *   resync — an event the watch missed heals here — and a read that succeeds confirms the set as
 *   of the moment it started (`RevocationSet.confirm`). A store that stops answering (or hangs: a
 *   read gets `staleAfterMs` at most) stops the confirmations, and once the set is stale the worker
 *   refuses credentials older than its last confirmation (fail closed, revocations.ts);
 * - where the manager's sign-in page is (`kvKeys.managerInfo()`), for 401 pages.
 * The worker applies the revocation snapshot before it serves any circuit (`start`).
 */
import type { Logger } from 'pino';
import { parseRevocation, type RevocationRecord } from '../../contracts/auth.ts';
import { kvKeys, type ManagerInfo } from '../../contracts/kv-layout.ts';
import { PrefixSync } from '../../stores/kv-sync.ts';
import type { KvEntry, KvEvent, KvStore } from '../../stores/types.ts';
import type { RevocationSet } from '../access/revocations.ts';

/** Default interval of the confirmation loop. */
export const DEFAULT_REVOCATION_CONFIRM_INTERVAL_MS = 2_000;
/** While the store stays away, one warning per this many ms. */
const LOG_EVERY_MS = 30_000;

export interface RevocationSourceOptions {
  kv: KvStore;
  revocations: RevocationSet;
  /** The manager's sign-in page changed (null: unknown or malformed). */
  onLoginUrl: (loginUrl: string | null) => void;
  confirmIntervalMs: number;
  logger: Logger;
}

/** The sign-in URL of a `ManagerInfo` value, when it is an http(s) URL. */
export function loginUrlOf(raw: string | null): string | null {
  if (raw === null) return null;
  try {
    const info = JSON.parse(raw) as Partial<ManagerInfo>;
    if (typeof info.loginUrl !== 'string') return null;
    const u = new URL(info.loginUrl);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

export class RevocationSource {
  private readonly prefix = kvKeys.revocations();
  private readonly records: PrefixSync;
  private readonly info: PrefixSync;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private failures = 0;
  private loggedAt = 0;
  /** Revision of the last confirmation read. */
  private readRevision = 0;
  /** Successful confirmations (tests wait on it). */
  confirmations = 0;

  constructor(private readonly opts: RevocationSourceOptions) {
    const { kv, logger } = opts;
    this.records = new PrefixSync(
      kv,
      this.prefix,
      {
        onSnapshot: (entries) => this.resync(entries, this.records.lastRevision),
        onEvents: (events) => this.applyEvents(events),
      },
      logger,
    );
    const infoKey = kvKeys.managerInfo();
    this.info = new PrefixSync(
      kv,
      infoKey,
      {
        onSnapshot: (entries) =>
          opts.onLoginUrl(loginUrlOf(entries.find((e) => e.key === infoKey)?.value ?? null)),
        onEvents: (events) => {
          for (const e of events) if (e.key === infoKey) opts.onLoginUrl(loginUrlOf(e.value));
        },
      },
      logger,
    );
  }

  /** Snapshot (confirming the set), watch, then the confirmation loop. Throws when KV does not answer. */
  async start(): Promise<void> {
    const startedAt = Date.now();
    await this.records.start();
    this.opts.revocations.confirm(startedAt);
    this.confirmations++;
    await this.info.start();
    this.schedule();
  }

  /** The last revision of the revocations prefix seen (snapshot, events or a confirmation read). */
  get revision(): number {
    return Math.max(this.records.lastRevision, this.readRevision);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.all([this.records.close(), this.info.close()]);
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      void this.confirm().finally(() => this.schedule());
    }, this.opts.confirmIntervalMs);
    this.timer.unref();
  }

  /**
   * One confirmation: re-reads the prefix and resyncs; on success the set is current as of the
   * moment the read started. A read that takes longer than the staleness bound counts as failed
   * (it could not confirm anything that is not stale already).
   */
  async confirm(): Promise<boolean> {
    const startedAt = Date.now();
    let timeout: NodeJS.Timeout | undefined;
    try {
      const read = this.opts.kv.getPrefix(this.prefix);
      read.catch(() => {});
      const { entries, revision } = await Promise.race([
        read,
        new Promise<never>((_, reject) => {
          timeout = setTimeout(
            () => reject(new Error('revocation read timed out')),
            this.opts.revocations.staleAfterMs,
          );
        }),
      ]);
      if (this.closed) return false;
      this.readRevision = Math.max(this.readRevision, revision);
      this.resync(entries, revision);
      this.opts.revocations.confirm(startedAt);
      this.confirmations++;
      if (this.failures > 0)
        this.opts.logger.info({ failures: this.failures }, 'revocation set confirmed again');
      this.failures = 0;
      return true;
    } catch (err) {
      this.failures++;
      const now = Date.now();
      if (this.failures === 1 || now - this.loggedAt >= LOG_EVERY_MS) {
        this.loggedAt = now;
        this.opts.logger.warn(
          { err, failures: this.failures, confirmedAt: this.opts.revocations.confirmedAt },
          'cannot confirm the revocation set; refusing older credentials once it is stale',
        );
      }
      return false;
    } finally {
      clearTimeout(timeout);
    }
  }

  private idOf(key: string): string | null {
    const id = key.slice(this.prefix.length);
    return id === '' || id.includes('/') ? null : id;
  }

  private parse(key: string, raw: string | null): RevocationRecord | null {
    const id = this.idOf(key);
    if (id === null) return null;
    const r = parseRevocation(raw);
    if (!r) {
      this.opts.logger.error({ key }, 'malformed revocation record ignored');
      return null;
    }
    // Indexed by its key: a delete event names only the key.
    return r.id === id ? r : { ...r, id };
  }

  private resync(entries: KvEntry[], revision: number): void {
    const records: RevocationRecord[] = [];
    for (const e of entries) {
      const r = this.parse(e.key, e.value);
      if (r) records.push(r);
    }
    this.opts.revocations.resync(records, revision);
  }

  private applyEvents(events: KvEvent[]): void {
    for (const e of events) {
      if (e.type === 'delete') {
        const id = this.idOf(e.key);
        if (id !== null) this.opts.revocations.remove(id, e.revision);
        continue;
      }
      const r = this.parse(e.key, e.value);
      if (r) this.opts.revocations.apply(r, e.revision);
    }
  }
}
