/**
 * Endpoint keys as the worker holds them: per endpoint, the digests of its live keys (from KV,
 * `kvKeys.endpointKeys()`, written by managers; never the keys themselves). A request to a token
 * endpoint presents `Authorization: Bearer <key>`: its SHA-256 is looked up here — one hash and a
 * Map lookup, no store call per request. A revoked key leaves KV, so it leaves here at the watch's
 * next event; an expired one is refused by its `expiresAt`.
 *
 * With several data-plane processes the primary's set sends each change to the children (the
 * `onChange` hook, multiprocess.ts).
 */
import { hash } from 'node:crypto';
import type { EndpointKeyRecord } from '../../contracts/endpoint.ts';
import type { ErrorCode } from '../../contracts/errors.ts';

export type EndpointKeyOp =
  | { put: EndpointKeyRecord }
  | { remove: { endpointId: string; id: string } }
  | { reset: true };

/** The record of a KV value, or null when it is not one. */
export function parseEndpointKey(raw: string | null): EndpointKeyRecord | null {
  if (raw === null) return null;
  try {
    const v = JSON.parse(raw) as Partial<EndpointKeyRecord>;
    if (
      typeof v.id !== 'string' ||
      typeof v.endpointId !== 'string' ||
      typeof v.digest !== 'string' ||
      !/^[0-9a-f]{64}$/.test(v.digest) ||
      (v.expiresAt !== null && typeof v.expiresAt !== 'number') ||
      !Array.isArray(v.models)
    )
      return null;
    return {
      id: v.id,
      endpointId: v.endpointId,
      digest: v.digest,
      expiresAt: v.expiresAt,
      models: v.models.map(String),
      ...(typeof v.rpm === 'number' ? { rpm: v.rpm } : {}),
      ...(typeof v.tpm === 'number' ? { tpm: v.tpm } : {}),
    };
  } catch {
    return null;
  }
}

// `BackendAI <key>` is the scheme Backend.AI's clients send to its endpoints; the key is the same.
const BEARER = /^(?:Bearer|BackendAI)[ \t]+(\S+)[ \t]*$/i;

export class EndpointKeys {
  /** endpoint → digest → record. */
  private readonly byEndpoint = new Map<string, Map<string, EndpointKeyRecord>>();
  /** endpoint/id → digest (to remove by id). */
  private readonly digestOf = new Map<string, string>();
  onChange: ((op: EndpointKeyOp) => void) | null = null;

  get size(): number {
    return this.digestOf.size;
  }

  apply(op: EndpointKeyOp): void {
    if ('reset' in op) {
      this.byEndpoint.clear();
      this.digestOf.clear();
    } else if ('put' in op) {
      const r = op.put;
      this.drop(r.endpointId, r.id);
      let keys = this.byEndpoint.get(r.endpointId);
      if (!keys) {
        keys = new Map();
        this.byEndpoint.set(r.endpointId, keys);
      }
      keys.set(r.digest, r);
      this.digestOf.set(`${r.endpointId}/${r.id}`, r.digest);
    } else this.drop(op.remove.endpointId, op.remove.id);
    this.onChange?.(op);
  }

  /** Every record now, as operations (a re-forked child's catch-up). */
  replay(): EndpointKeyOp[] {
    const ops: EndpointKeyOp[] = [{ reset: true }];
    for (const keys of this.byEndpoint.values()) for (const r of keys.values()) ops.push({ put: r });
    return ops;
  }

  /** The check of a request to a token endpoint: null = admitted, else the error code. */
  check(endpointId: string, authorization: string | undefined, now = Date.now()): ErrorCode | null {
    const r = this.lookup(endpointId, authorization, now);
    return typeof r === 'string' ? r : null;
  }

  /** The key a request to a token endpoint presents (its scope and limits), or why it is refused. */
  lookup(
    endpointId: string,
    authorization: string | undefined,
    now = Date.now(),
  ): EndpointKeyRecord | ErrorCode {
    if (authorization === undefined) return 'AP_ERR_UNAUTHENTICATED';
    const m = BEARER.exec(authorization);
    if (!m) return 'AP_ERR_UNAUTHENTICATED';
    const keys = this.byEndpoint.get(endpointId);
    if (!keys) return 'AP_ERR_ENDPOINT_KEY_INVALID';
    // One-shot hash: no Hash object per request (~3× cheaper than createHash for a short key).
    const r = keys.get(hash('sha256', m[1]!, 'hex'));
    if (!r || (r.expiresAt !== null && r.expiresAt <= now)) return 'AP_ERR_ENDPOINT_KEY_INVALID';
    return r;
  }

  private drop(endpointId: string, id: string): void {
    const k = `${endpointId}/${id}`;
    const digest = this.digestOf.get(k);
    if (digest === undefined) return;
    this.digestOf.delete(k);
    const keys = this.byEndpoint.get(endpointId);
    keys?.delete(digest);
    if (keys?.size === 0) this.byEndpoint.delete(endpointId);
  }
}
