import { countersContract } from '../../src/stores/contract/counters.ts';
import { EmbeddedCounterStore } from '../../src/stores/embedded/counters.ts';

countersContract('embedded', async () => new EmbeddedCounterStore({ sweepIntervalMs: 50 }));
