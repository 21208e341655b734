import { dropPostgresStore, makePostgresStore } from '../helpers/stores.js';
import { workerBehaviour } from './worker-behaviour.js';

workerBehaviour('postgres', () => makePostgresStore(), dropPostgresStore);
