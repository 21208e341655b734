export {
  type EnqueueOptions,
  type FlowSelector,
  GafferClient,
  TaskFailedError,
  type TypeDefinition,
} from './client/client.js';
export { HttpBackend, type HttpOptions } from './client/http-backend.js';
export { ScheduleClient, type ScheduleDefinition } from './client/schedules.js';
export { enqueueInTransaction } from './client/transactional.js';
export * from './core/backoff.js';
export * from './core/errors.js';
export * from './core/states.js';
export { Batcher } from './engine/batcher.js';
export { createLogger, silentLogger } from './engine/logger.js';
export { type MaintenanceOptions, MaintenanceService } from './engine/maintenance.js';
export { type SchedulerOptions, SchedulerService } from './engine/scheduler.js';
export * from './store/index.js';
export { DirectTransport } from './worker/direct-transport.js';
export { HttpTransport, type HttpTransportOptions } from './worker/http-transport.js';
export type { WorkerTransport } from './worker/transport.js';
export {
  formatSummary,
  type TaskContext,
  Worker,
  type WorkerOptions,
  type WorkerSummary,
} from './worker/worker.js';
