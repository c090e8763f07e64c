/**
 * The worker's revocation set: the records managers project into KV (`kvKeys.revocations()`,
 * `RevocationRecord` of contracts/auth.ts), held in memory and checked on every request without a
 * store call — a few Map lookups (`check`). The control source (control/revocations.ts) keeps it
 * current: snapshot, watch events, and a periodic re-read that confirms it (`confirm`).
 *
 * Indexes: records by id, and per kind by subject (a login session or token: every credential
 * carrying it; a user or circuit: credentials issued before `at`, so the record with the latest
 * `at` per subject is the one that matters).
 *
 * Ordering: changes carry the KV revision they happened at. A put or delete older than what the
 * set already holds for that id is ignored, and a re-read (`resync`) only removes records it is
 * newer than, so a slow re-read can never undo a revocation that a watch event delivered after
 * the re-read's revision (nor bring back one deleted since). Changes without a revision (the
 * primary's decisions replayed in a data-plane child, tests) always apply.
 *
 * Fail closed: `confirmedAt` is the start of the last read that proved the set current. Once it is
 * older than `staleAfterMs`, credentials issued before it are refused (`UNCONFIRMED`): a revocation
 * may have been made since that this worker has not heard of. Credentials issued after it (a
 * cookie from a fresh setup link) still work — nothing issued later can have been revoked before.
 *
 * Records past `expiresAt` are dropped (no credential they could refuse is valid any more).
 * Listeners hear of every record that arrives (the data plane ends the live connections it
 * matches); `replicate` is the hook the primary's subclass sends its decisions to children with.
 */
import {
  type Credential,
  type RevocationKind,
  type RevocationRecord,
  revokedBy,
} from '../../contracts/auth.ts';

/** Default bound on how long the set may go unconfirmed before old credentials are refused. */
export const DEFAULT_REVOCATION_STALE_AFTER_MS = 30_000;

/** `check`'s answer when the set is stale and the credential older than its last confirmation. */
export const UNCONFIRMED = 'unconfirmed';
export type Refusal = RevocationRecord | typeof UNCONFIRMED;

/** One decision of the set, as the primary replicates it to data-plane children. */
export type RevocationOp = { add: RevocationRecord } | { remove: string } | { confirmed: number };

/** A record arrived; `live`: after the set was first confirmed (its lag means something). */
export type RevocationListener = (record: RevocationRecord, live: boolean) => void;

export interface RevocationSetOptions {
  /** Default `DEFAULT_REVOCATION_STALE_AFTER_MS`. */
  staleAfterMs?: number;
  /** The number of records held changed (a gauge). */
  onSizeChange?: (size: number) => void;
}

interface Held {
  record: RevocationRecord;
  /** KV revision it was put at (Infinity: applied without one). */
  revision: number;
}

function sameRecord(a: RevocationRecord, b: RevocationRecord): boolean {
  return (
    a.kind === b.kind &&
    a.subject === b.subject &&
    a.at === b.at &&
    a.expiresAt === b.expiresAt &&
    a.reason === b.reason
  );
}

export class RevocationSet {
  readonly staleAfterMs: number;
  /**
   * False while the `logoutRevocation` flag is off for this worker: the set is still kept current
   * (so turning it back on refuses at once), but refuses nothing and ends no connection — cookies
   * live out their own expiry, and an unconfirmed set does not fail closed. Changed by `enforce`.
   */
  private enforcingNow = true;

  get enforcing(): boolean {
    return this.enforcingNow;
  }

  /**
   * Turns enforcement on or off. Turned back on, every record held is enforced again at once:
   * live connections it matches (opened while it was off) end, as when the record arrived.
   */
  enforce(on: boolean): void {
    if (on === this.enforcingNow) return;
    this.enforcingNow = on;
    if (!on) return;
    for (const { record } of this.byId.values()) for (const fn of this.listeners) fn(record, false);
  }

  /** Start of the last read that proved the set current (epoch ms; 0 = never). */
  confirmedAt = 0;
  private readonly byId = new Map<string, Held>();
  /** Ids deleted at a revision, so an older re-read does not bring them back. */
  private readonly tombstones = new Map<string, number>();
  // Per kind, by subject: the record that refuses the most (see `indexRecord`).
  private readonly loginSessions = new Map<string, RevocationRecord>();
  private readonly tokens = new Map<string, RevocationRecord>();
  private readonly users = new Map<string, RevocationRecord>();
  private readonly circuits = new Map<string, RevocationRecord>();
  private readonly listeners: RevocationListener[] = [];

  constructor(private readonly opts: RevocationSetOptions = {}) {
    this.staleAfterMs = opts.staleAfterMs ?? DEFAULT_REVOCATION_STALE_AFTER_MS;
  }

  get size(): number {
    return this.byId.size;
  }

  /** The records held (a copy). */
  records(): RevocationRecord[] {
    return [...this.byId.values()].map((h) => h.record);
  }

  onRecord(fn: RevocationListener): void {
    this.listeners.push(fn);
  }

  // ---------------------------------------------------------------- the hot path

  /**
   * Why `c` is refused: the record that revokes it, `UNCONFIRMED` (the set is stale and `c` older
   * than its last confirmation), or null. Map lookups only; allocates nothing.
   */
  check(c: Credential, now: number): Refusal | null {
    if (!this.enforcingNow) return null;
    if (this.byId.size !== 0) {
      const r = revokedBy(this, c);
      if (r !== null) return r;
    }
    if (c.issuedAt < this.confirmedAt && now - this.confirmedAt > this.staleAfterMs) return UNCONFIRMED;
    return null;
  }

  /** The record that revokes `c`, regardless of staleness (live connections, raw TCP access). */
  revoked(c: Credential): RevocationRecord | null {
    return this.byId.size === 0 || !this.enforcingNow ? null : revokedBy(this, c);
  }

  /** True while the set has not been confirmed for longer than `staleAfterMs`. */
  stale(now: number): boolean {
    return now - this.confirmedAt > this.staleAfterMs;
  }

  // The lookups `revokedBy` asks for.
  loginSession(id: string): RevocationRecord | undefined {
    return this.loginSessions.get(id);
  }
  token(id: string): RevocationRecord | undefined {
    return this.tokens.get(id);
  }
  user(id: string): RevocationRecord | undefined {
    return this.users.get(id);
  }
  circuit(id: string): RevocationRecord | undefined {
    return this.circuits.get(id);
  }

  // ---------------------------------------------------------------- changes

  /** A record put at `revision` (undefined: apply unconditionally). Expired records are ignored. */
  apply(record: RevocationRecord, revision?: number, now = Date.now()): void {
    const rev = revision ?? Number.POSITIVE_INFINITY;
    const dead = this.tombstones.get(record.id);
    if (dead !== undefined && revision !== undefined && dead >= revision) return;
    const held = this.byId.get(record.id);
    if (held && revision !== undefined && held.revision > revision) return;
    if (record.expiresAt <= now) {
      if (held) this.drop(record.id);
      return;
    }
    this.tombstones.delete(record.id);
    if (held && sameRecord(held.record, record)) {
      held.revision = rev;
      return;
    }
    if (held) {
      this.byId.delete(record.id);
      this.unindex(held.record);
    }
    this.byId.set(record.id, { record, revision: rev });
    this.indexRecord(record);
    this.opts.onSizeChange?.(this.byId.size);
    this.replicate({ add: record });
    if (!this.enforcingNow) return;
    const live = this.confirmedAt > 0;
    for (const fn of this.listeners) fn(record, live);
  }

  /** The record `id` was deleted at `revision` (undefined: unconditionally). */
  remove(id: string, revision?: number): void {
    if (revision !== undefined) {
      const held = this.byId.get(id);
      if (held && held.revision > revision) return;
      this.tombstones.set(id, Math.max(revision, this.tombstones.get(id) ?? 0));
    }
    this.drop(id);
  }

  /**
   * The whole prefix as read at `revision`: missing records are added, records it no longer holds
   * are removed (unless a newer event put them), expired ones dropped.
   */
  resync(records: RevocationRecord[], revision?: number, now = Date.now()): void {
    const seen = new Set<string>();
    for (const r of records) {
      seen.add(r.id);
      this.apply(r, revision, now);
    }
    for (const [id, held] of [...this.byId]) {
      if (!seen.has(id) && (revision === undefined || held.revision <= revision)) this.drop(id);
    }
    if (revision === undefined) this.tombstones.clear();
    else for (const [id, rev] of [...this.tombstones]) if (rev <= revision) this.tombstones.delete(id);
    this.sweep(now);
  }

  /** Drops records past their expiry. */
  sweep(now: number): void {
    for (const [id, held] of [...this.byId]) if (held.record.expiresAt <= now) this.drop(id);
  }

  /** A read that started at `at` proved the set current. */
  confirm(at: number): void {
    if (at <= this.confirmedAt) return;
    this.confirmedAt = at;
    this.replicate({ confirmed: at });
  }

  /** Applies a decision of the primary's set (in a data-plane child). */
  applyOp(op: RevocationOp): void {
    if ('add' in op) this.apply(op.add);
    else if ('remove' in op) this.remove(op.remove);
    else this.confirm(op.confirmed);
  }

  /** Everything a fresh copy needs to reach this state (a re-forked child). */
  replay(): RevocationOp[] {
    const ops: RevocationOp[] = this.records().map((r) => ({ add: r }));
    if (this.confirmedAt > 0) ops.push({ confirmed: this.confirmedAt });
    return ops;
  }

  /** Where the primary's subclass sends its decisions to the children. */
  protected replicate(_op: RevocationOp): void {}

  private drop(id: string): void {
    const held = this.byId.get(id);
    if (!held) return;
    this.byId.delete(id);
    this.unindex(held.record);
    this.opts.onSizeChange?.(this.byId.size);
    this.replicate({ remove: id });
  }

  /** `user` and `circuit`: the record with the latest `at` refuses the most; others: any. */
  private indexOf(kind: RevocationKind): Map<string, RevocationRecord> {
    if (kind === 'login-session') return this.loginSessions;
    if (kind === 'token') return this.tokens;
    return kind === 'user' ? this.users : this.circuits;
  }

  private indexRecord(r: RevocationRecord): void {
    const m = this.indexOf(r.kind);
    const cur = m.get(r.subject);
    if (!cur || ((r.kind === 'user' || r.kind === 'circuit') && r.at > cur.at)) m.set(r.subject, r);
  }

  private unindex(r: RevocationRecord): void {
    const m = this.indexOf(r.kind);
    if (m.get(r.subject) !== r) return;
    m.delete(r.subject);
    // Another record of the same subject takes its place (rare: a scan is fine).
    for (const h of this.byId.values()) {
      if (h.record.kind === r.kind && h.record.subject === r.subject) this.indexRecord(h.record);
    }
  }
}
