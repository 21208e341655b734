// `@gafferhq/gaffer/client`: the producer's SDK over HTTP. Loads neither PGlite, pg nor Fastify.

export * from '../core/backoff.js';
export * from '../core/errors.js';
export * from '../core/states.js';
export type * from '../store/flow-types.js';
export type * from '../store/types.js';
export {
  type ClientBackend,
  type EnqueueOptions,
  GafferClient,
  TaskFailedError,
  type TypeDefinition,
} from './client.js';
export { HttpBackend, type HttpOptions } from './http-backend.js';
export { ScheduleClient, type ScheduleDefinition } from './schedules.js';
