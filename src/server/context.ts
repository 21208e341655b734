import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from '../engine/logger.js';
import type { Store } from '../store/store.js';
import type { AuthGate } from './auth.js';
import type { PayloadValidator } from './payloads.js';
import type { WorkerHub } from './worker-hub.js';

/** What every route module gets: the store and the server's shared services. */
export interface ServerContext {
  store: Store;
  hub: WorkerHub;
  payloads: PayloadValidator;
  auth: AuthGate;
  log: Logger;
}

export type ZodApp = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;
