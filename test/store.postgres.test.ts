import { runStoreConformance } from '../src/store/conformance/index.js';
import { dropPostgresStore, makePostgresStore } from './helpers/stores.js';

runStoreConformance('postgres', makePostgresStore, dropPostgresStore);
