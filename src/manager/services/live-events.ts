/**
 * The console's live channel: lifecycle events as they are recorded (by any manager: they are
 * read from SQL), pushed to every subscriber allowed to see them — admins all, users those of
 * their own sessions and endpoints. One poll of the event table per manager, whatever the number
 * of subscribers, and only while there is one; each subscriber re-checks its credential every
 * few seconds, so a sign-out ends its stream too.
 */
import type { Logger } from 'pino';
import type { LifecycleEvent } from '../../contracts/records.ts';
import type { EventLog } from '../repos/events.ts';
import type { Principal } from './auth.ts';

export type LiveEvent = LifecycleEvent & { ownerId: string | null };

export interface Subscriber {
  principal: Principal;
  /** A visible event. */
  send(e: LifecycleEvent): void;
  /** The subscriber is still signed in (false: its stream ends). */
  stillValid(): Promise<boolean>;
  /** Ends the stream (its credential is gone, or the manager closes). */
  end(): void;
}

/** Poll period of the event table (one query per manager per period, while anyone listens). */
const POLL_MS = 500;
/** How often each subscriber's credential is checked again. */
const RECHECK_MS = 5_000;
/** Events read per poll at most (a burst beyond is read by the next polls). */
const BATCH = 500;
/** Events a reconnecting client may replay from its Last-Event-ID. */
export const REPLAY_MAX = 200;

export class LiveEvents {
  private readonly subscribers = new Set<Subscriber>();
  private last = -1;
  private timer: NodeJS.Timeout | null = null;
  private recheck: NodeJS.Timeout | null = null;
  private polling = false;
  private closed = false;

  constructor(
    private readonly log: Pick<EventLog, 'since' | 'lastId'>,
    private readonly logger: Logger,
  ) {}

  static visible(p: Principal, e: LiveEvent): boolean {
    return p.role === 'admin' || (e.ownerId !== null && e.ownerId === p.userId);
  }

  /**
   * Adds a subscriber; events after `afterId` (a reconnect's Last-Event-ID) are replayed first,
   * up to REPLAY_MAX. Returns its removal.
   */
  async subscribe(s: Subscriber, afterId: number | null): Promise<() => void> {
    if (this.closed) {
      s.end();
      return () => {};
    }
    if (this.last < 0) this.last = await this.log.lastId();
    if (afterId !== null && afterId < this.last) {
      const missed = await this.log.since(Math.max(afterId, this.last - REPLAY_MAX * 10), REPLAY_MAX);
      for (const e of missed) if (e.id <= this.last && LiveEvents.visible(s.principal, e)) s.send(e);
    }
    this.subscribers.add(s);
    this.start();
    return () => {
      this.subscribers.delete(s);
      if (this.subscribers.size === 0) this.stop();
    };
  }

  get size(): number {
    return this.subscribers.size;
  }

  close(): void {
    this.closed = true;
    this.endAll();
  }

  /** Ends every open stream (the service stays open for new ones): the `liveEvents` flag turned off. */
  endAll(): void {
    this.stop();
    for (const s of this.subscribers) s.end();
    this.subscribers.clear();
  }

  private start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.poll(), POLL_MS);
    this.timer.unref();
    this.recheck = setInterval(() => void this.revalidate(), RECHECK_MS);
    this.recheck.unref();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.recheck) clearInterval(this.recheck);
    this.timer = null;
    this.recheck = null;
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const events = await this.log.since(this.last, BATCH);
      for (const e of events) {
        this.last = e.id;
        for (const s of this.subscribers) if (LiveEvents.visible(s.principal, e)) s.send(e);
      }
    } catch (err) {
      // The store is away: the next poll tries again (clients keep their stream).
      this.logger.debug({ err }, 'live events: poll failed');
    } finally {
      this.polling = false;
    }
  }

  private async revalidate(): Promise<void> {
    for (const s of [...this.subscribers]) {
      const ok = await s.stillValid().catch(() => true);
      if (!ok) {
        this.subscribers.delete(s);
        s.end();
      }
    }
    if (this.subscribers.size === 0) this.stop();
  }
}
