/**
 * A lease on etcd kept alive over a keep-alive stream, with a watchdog that declares it lost when
 * no keep-alive was answered for its TTL; see kv.ts for the whole adapter's contract.
 */
import type { IDuplexStream, ILeaseKeepAliveRequest, ILeaseKeepAliveResponse } from 'etcd3';
import type { KvLease } from '../types.ts';
import { type EtcdHandle, endStream, RECONNECT_MIN_MS } from './streams.ts';

export class EtcdLease implements KvLease {
  readonly lost: Promise<void>;
  private resolveLost!: () => void;
  private done = false;
  private suspended = false;
  private stream: IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse> | undefined;
  private sent: number[] = [];
  /** When the last answered keep-alive was sent (etcd restarted the TTL no earlier than that). */
  private okAt = Date.now();
  private interval: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private delay = RECONNECT_MIN_MS;

  constructor(
    private readonly store: EtcdHandle,
    readonly id: string,
    readonly ttlMs: number,
  ) {
    this.lost = new Promise<void>((r) => {
      this.resolveLost = r;
    });
  }

  start(): void {
    this.armWatchdog();
    this.interval = setInterval(() => this.fire(), Math.max(250, Math.floor(this.ttlMs / 3)));
    this.interval.unref();
    void this.openStream();
  }

  suspend(): void {
    this.suspended = true;
  }

  private armWatchdog(): void {
    clearTimeout(this.watchdog);
    const left = this.okAt + this.ttlMs - Date.now();
    this.watchdog = setTimeout(() => this.markLost(), Math.max(0, left));
    this.watchdog.unref();
  }

  private async openStream(): Promise<void> {
    if (this.done) return;
    let stream: IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;
    try {
      stream = await this.store.client.leaseClient.leaseKeepAlive();
    } catch {
      this.scheduleReopen();
      return;
    }
    if (this.done) {
      endStream(stream);
      return;
    }
    this.stream = stream;
    this.sent = [];
    stream.on('data', (res: ILeaseKeepAliveResponse) => {
      if (this.stream !== stream || this.done) return;
      const sentAt = this.sent.shift() ?? Date.now();
      if (Number(res.TTL) <= 0) {
        this.markLost();
        return;
      }
      this.delay = RECONNECT_MIN_MS;
      this.okAt = Math.max(this.okAt, sentAt);
      this.armWatchdog();
    });
    const broke = () => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      endStream(stream);
      this.scheduleReopen();
    };
    stream.on('error', broke);
    stream.on('end', broke);
    this.fire();
  }

  private scheduleReopen(): void {
    if (this.done || this.retryTimer) return;
    const delay = this.delay;
    this.delay = Math.min(this.delay * 2, this.store.maxReconnectDelayMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.openStream();
    }, delay);
    this.retryTimer.unref();
  }

  fire(): void {
    if (this.done || this.suspended || !this.stream) return;
    try {
      this.sent.push(Date.now());
      this.stream.write({ ID: this.id });
    } catch {
      // the 'error' handler reopens
    }
  }

  private teardown(): void {
    this.done = true;
    clearInterval(this.interval);
    clearTimeout(this.watchdog);
    clearTimeout(this.retryTimer);
    const s = this.stream;
    this.stream = undefined;
    endStream(s);
  }

  private markLost(): void {
    if (this.done) return;
    this.teardown();
    this.resolveLost();
  }

  /** Stops keep-alives without revoking (store close); the holder is told it lost the lease. */
  release(): void {
    this.markLost();
  }

  async revoke(): Promise<void> {
    this.teardown();
    try {
      if (!this.store.isClosed) await this.store.client.leaseClient.leaseRevoke({ ID: this.id });
    } catch (err) {
      // Already expired or revoked elsewhere: the outcome the caller wanted.
      if (!/lease not found/i.test((err as Error).message)) throw err;
    } finally {
      // Keep-alives have stopped either way: the lease is gone now or at the end of its TTL.
      this.resolveLost();
    }
  }
}
