import { EmbeddedCounterStore } from '../../src/stores/embedded/counters.ts';
import { countersContract } from './suites/counters.ts';

countersContract('embedded', async () => new EmbeddedCounterStore({ sweepIntervalMs: 50 }));
