/**
 * How endpoint keys reach the worker (beside `ControlSource`): the prefix `kvKeys.endpointKeys()`
 * as a snapshot, then a watch that resumes from its last revision after an outage (`PrefixSync`);
 * a snapshot after a compaction replaces the whole set.
 */
import type { Logger } from 'pino';
import { KV_PREFIX, kvKeys } from '../../contracts/kv-layout.ts';
import { PrefixSync } from '../../stores/kv-sync.ts';
import type { KvStore } from '../../stores/types.ts';
import { type EndpointKeys, parseEndpointKey } from '../access/endpoint-keys.ts';

/** `endpoint-keys/<endpoint>/<id>` → its parts. */
function idsOf(key: string): { endpointId: string; id: string } | null {
  const m = /^endpoint-keys\/([^/]+)\/([^/]+)$/.exec(key.slice(KV_PREFIX.length));
  return m ? { endpointId: m[1]!, id: m[2]! } : null;
}

export class EndpointKeySource {
  private readonly sync: PrefixSync;

  constructor(kv: KvStore, keys: EndpointKeys, logger: Logger) {
    this.sync = new PrefixSync(
      kv,
      kvKeys.endpointKeys(),
      {
        onSnapshot: (entries) => {
          keys.apply({ reset: true });
          for (const e of entries) {
            const r = parseEndpointKey(e.value);
            if (r) keys.apply({ put: r });
          }
        },
        onEvents: (events) => {
          for (const e of events) {
            const ids = idsOf(e.key);
            if (!ids) continue;
            const r = e.type === 'put' ? parseEndpointKey(e.value ?? null) : null;
            if (r) keys.apply({ put: r });
            else keys.apply({ remove: ids });
          }
        },
      },
      logger,
    );
  }

  start(): Promise<void> {
    return this.sync.start();
  }

  close(): Promise<void> {
    return this.sync.close();
  }
}
