import { embeddedStores } from './cluster.ts';
import { clusterSuite } from './suite.ts';

clusterSuite('embedded stores', embeddedStores);
