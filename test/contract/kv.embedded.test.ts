import { EmbeddedKvStore } from '../../src/stores/embedded/kv.ts';
import { kvContract } from './suites/kv.ts';

kvContract('embedded', async () => new EmbeddedKvStore(), {
  async expireLease(store, leaseId) {
    store.expireLease(leaseId);
  },
  async compact(store, revision) {
    store.compact(revision);
  },
});
