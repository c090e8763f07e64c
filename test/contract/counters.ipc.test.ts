/**
 * The counters role as a data-plane child sees it (`processes > 1`): `IpcCounterStore` in the
 * child, `serveCounterCall` on the primary's real store, every message through a JSON round trip
 * as the IPC channel serializes it. It must pass the same contract as every other adapter.
 */
import { EmbeddedCounterStore } from '../../src/stores/embedded/counters.ts';
import {
  type CounterCall,
  type CounterResult,
  IpcCounterStore,
  serveCounterCall,
} from '../../src/worker/multiprocess/ipc-counters.ts';
import { countersContract } from './suites/counters.ts';

/** What a message looks like on the other side of the channel. */
function overIpc<T>(m: T): T {
  return JSON.parse(JSON.stringify(m)) as T;
}

/** A child's store wired to a primary's store; closing it closes the primary's. */
class ChildStore extends IpcCounterStore {
  constructor(private readonly primary: EmbeddedCounterStore) {
    super(
      (m: CounterCall) =>
        setImmediate(
          () =>
            void serveCounterCall(primary, overIpc(m), (r: CounterResult) =>
              setImmediate(() => this.settle(overIpc(r))),
            ),
        ),
      () => true,
    );
  }

  override async close(): Promise<void> {
    await this.primary.close();
  }
}

countersContract(
  'ipc (data-plane child)',
  async () => new ChildStore(new EmbeddedCounterStore({ sweepIntervalMs: 50 })),
);
