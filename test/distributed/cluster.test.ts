import { embeddedStores } from './helpers.ts';
import { clusterSuite } from './suite.ts';

clusterSuite('embedded stores', embeddedStores);
