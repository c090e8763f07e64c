/**
 * Waiting on one KV key: the manager's side of the readiness handshake with workers. A snapshot
 * then a watch from the snapshot's revision, so no change is missed between the two; a watch that
 * dies (compaction, store restart) is re-armed with a fresh snapshot. Nothing here polls.
 */
import type { KvStore, KvWatcher } from '../../stores/types.ts';

export type WaitOutcome<T> = { kind: 'done'; value: T } | { kind: 'timeout' } | { kind: 'aborted' };

export interface WaitForKeyOptions<T> {
  /** Called with the key's value (null when absent); a non-undefined result ends the wait. */
  match: (value: string | null) => T | undefined;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Delay before re-arming after the watch or the snapshot failed. */
  retryMs?: number;
  onWatchError?: (err: unknown) => void;
}

export function waitForKey<T>(kv: KvStore, key: string, opts: WaitForKeyOptions<T>): Promise<WaitOutcome<T>> {
  return new Promise((resolve) => {
    let finished = false;
    let watcher: KvWatcher | undefined;
    let retry: NodeJS.Timeout | undefined;
    const finish = (o: WaitOutcome<T>) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(retry);
      opts.signal?.removeEventListener('abort', onAbort);
      void watcher?.close().catch(() => {});
      resolve(o);
    };
    const check = (value: string | null) => {
      const m = opts.match(value);
      if (m !== undefined) finish({ kind: 'done', value: m });
    };
    const onAbort = () => finish({ kind: 'aborted' });
    const timer = setTimeout(() => finish({ kind: 'timeout' }), opts.timeoutMs);
    if (opts.signal?.aborted) return finish({ kind: 'aborted' });
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const rearm = (err: unknown) => {
      opts.onWatchError?.(err);
      void watcher?.close().catch(() => {});
      watcher = undefined;
      if (!finished) retry = setTimeout(() => void arm(), opts.retryMs ?? 200);
    };
    const arm = async () => {
      try {
        const snap = await kv.getPrefix(key);
        if (finished) return;
        check(snap.entries.find((e) => e.key === key)?.value ?? null);
        if (finished) return;
        const w = await kv.watch(key, snap.revision, {
          onEvents: (events) => {
            for (const e of events) if (e.key === key && !finished) check(e.type === 'put' ? e.value : null);
          },
          onError: (err) => {
            if (!finished) rearm(err);
          },
        });
        if (finished) void w.close().catch(() => {});
        else watcher = w;
      } catch (err) {
        if (!finished) rearm(err);
      }
    };
    void arm();
  });
}
