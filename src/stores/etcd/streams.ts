/**
 * What the etcd adapter's watch and lease streams share with the store (kv.ts): the client, the
 * reconnect pacing, and two small helpers. A leaf module, so that the store, its watches and its
 * leases import it without importing each other in a circle.
 */
import type { Etcd3 as Etcd3Client } from 'etcd3';

/** What a watch or a lease needs of its store. */
export interface EtcdHandle {
  readonly client: Etcd3Client;
  readonly maxReconnectDelayMs: number;
  readonly isClosed: boolean;
}

/** First reconnect delay of a watch or keep-alive stream (doubling up to `maxReconnectDelayMs`). */
export const RECONNECT_MIN_MS = 50;

/** Everything under `prefix`: [key, range_end) per etcd's prefix convention. */
export function prefixRange(prefix: string): { key: Buffer; range_end: Buffer } {
  const key = Buffer.from(prefix);
  if (key.length === 0) return { key: Buffer.from([0]), range_end: Buffer.from([0]) };
  const end = Buffer.from(key);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return { key, range_end: end.subarray(0, i + 1) };
    }
  }
  return { key, range_end: Buffer.from([0]) }; // every byte 0xff: to the end of the keyspace
}

/** Ends a client stream without etcd3 treating our own cancel as a host failure. */
export function endStream(stream: { end(): void; cancel(): void } | undefined): void {
  if (!stream) return;
  try {
    stream.end(); // not writable any more: etcd3's error hook then ignores the CANCELLED below
    stream.cancel();
  } catch {
    // already finished
  }
}
