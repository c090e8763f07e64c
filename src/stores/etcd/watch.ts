/**
 * A watch of one prefix on etcd, on a raw stream rather than etcd3's Watcher (which moves its
 * resume point before the backlog arrives and can lose events): it resumes from the last
 * delivered revision + 1 after a broken stream and drops duplicates; see kv.ts for the whole
 * adapter's contract.
 */
import type { IDuplexStream, IWatchRequest, IWatchResponse } from 'etcd3';
import { type KvEvent, KvWatchError, type KvWatchHandlers } from '../types.ts';
import { type EtcdHandle, endStream, prefixRange, RECONNECT_MIN_MS } from './streams.ts';

export class EtcdWatch {
  private stream: IDuplexStream<IWatchRequest, IWatchResponse> | undefined;
  /** The next revision this watch wants: everything below it was delivered. */
  private next: number;
  private dead = false;
  private delay = RECONNECT_MIN_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly range: { key: Buffer; range_end: Buffer };

  constructor(
    private readonly store: EtcdHandle,
    prefix: string,
    afterRevision: number,
    private readonly handlers: KvWatchHandlers,
  ) {
    this.next = afterRevision + 1;
    this.range = prefixRange(prefix);
  }

  /** Opens the stream from `next`; the first time, resolves once etcd confirmed the watch. */
  async connect(first = false): Promise<void> {
    if (this.dead) return;
    let stream: IDuplexStream<IWatchRequest, IWatchResponse>;
    try {
      stream = await this.store.client.watchClient.watch();
    } catch (err) {
      if (first) throw err;
      this.scheduleReconnect();
      return;
    }
    if (this.dead) {
      endStream(stream);
      return;
    }
    this.stream = stream;
    const created = new Promise<void>((resolve, reject) => {
      stream.on('data', (res: IWatchResponse) => {
        if (this.stream !== stream) return;
        if (res.created) resolve();
        this.onResponse(res);
      });
      const broke = (err: Error) => {
        reject(err);
        if (this.stream !== stream) return;
        this.stream = undefined;
        endStream(stream);
        this.scheduleReconnect();
      };
      stream.on('error', broke);
      stream.on('end', () => broke(new Error('etcd watch stream ended')));
    });
    stream.write({
      create_request: { ...this.range, start_revision: this.next },
    });
    if (first) await created;
    else created.catch(() => {});
  }

  private scheduleReconnect(): void {
    if (this.dead || this.retryTimer) return;
    const delay = this.delay;
    this.delay = Math.min(this.delay * 2, this.store.maxReconnectDelayMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, delay);
  }

  private onResponse(res: IWatchResponse): void {
    if (this.dead) return;
    this.delay = RECONNECT_MIN_MS;
    const compactRevision = Number(res.compact_revision ?? 0);
    if (compactRevision > 0) {
      this.fail(new KvWatchError('compacted', compactRevision));
      return;
    }
    if (res.canceled) {
      this.fail(new KvWatchError('unavailable'));
      return;
    }
    const events: KvEvent[] = [];
    for (const ev of res.events ?? []) {
      const revision = Number(ev.kv.mod_revision);
      if (revision < this.next) continue; // already delivered before a reconnect
      events.push({
        type: ev.type === 'Put' ? 'put' : 'delete',
        key: ev.kv.key.toString(),
        value: ev.type === 'Put' ? ev.kv.value.toString() : null,
        revision,
      });
    }
    if (events.length > 0) {
      // etcd sends all events of one revision in one response (no fragmenting requested).
      this.next = events[events.length - 1]!.revision + 1;
      this.handlers.onEvents(events);
    }
    // Progress notifications are not used to move `next` forward: etcd before 3.4.24 / 3.5.8 could
    // send one ahead of pending events (etcd-io/etcd#15220), and skipping by it would lose them.
  }

  /** Ends the watch with an error (once). */
  fail(err: KvWatchError): void {
    if (this.dead) return;
    this.stop();
    this.handlers.onError(err);
  }

  private stop(): void {
    this.dead = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const s = this.stream;
    this.stream = undefined;
    endStream(s);
  }

  async close(): Promise<void> {
    this.stop();
  }
}
