import { runStoreConformance } from '../src/store/conformance/index.js';
import { dropPgliteStore, makePgliteStore } from './helpers/stores.js';

runStoreConformance('pglite', makePgliteStore, dropPgliteStore);
