import { dropPgliteStore, makePgliteStore } from '../helpers/stores.js';
import { workerBehaviour } from './worker-behaviour.js';

workerBehaviour('pglite', () => makePgliteStore(), dropPgliteStore);
