// `@gafferhq/gaffer/worker`: a worker over the HTTP worker protocol. Loads neither PGlite, pg nor Fastify.
export * from '../core/errors.js';
export type * from '../store/types.js';
export { DirectTransport } from './direct-transport.js';
export { HttpTransport, type HttpTransportOptions } from './http-transport.js';
export type { Registration, WorkerTransport } from './transport.js';
export {
  formatSummary,
  type HandlerDefinition,
  type TaskContext,
  Worker,
  type WorkerOptions,
  type WorkerSummary,
} from './worker.js';
