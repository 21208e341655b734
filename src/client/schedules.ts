import type { Store } from '../store/store.js';
import type * as T from '../store/types.js';

/** What the schedule calls need of a backend: the store itself, or HttpBackend. */
export type ScheduleBackend = Pick<
  Store,
  | 'upsertSchedule'
  | 'getSchedule'
  | 'listSchedules'
  | 'deleteSchedule'
  | 'pauseSchedule'
  | 'resumeSchedule'
  | 'getScheduleEvents'
>;

export type ScheduleDefinition = Omit<T.UpsertScheduleParams, 'name' | 'now'>;

/** `client.schedules`: recurring tasks by name (cron in a time zone, or every N ms). */
export class ScheduleClient {
  constructor(
    private readonly backend: ScheduleBackend,
    private readonly check: (task: { type: string; payload?: T.Json }) => void = () => {},
  ) {}

  /** Creates the schedule, or changes the one of that name; a new timing starts from now. */
  upsert(name: string, def: ScheduleDefinition): Promise<T.UpsertScheduleResult> {
    this.check({ type: def.type, payload: def.payload });
    return this.backend.upsertSchedule({ ...def, name });
  }
  get(name: string): Promise<T.Schedule> {
    return this.backend.getSchedule(name);
  }
  list(p: { limit?: number; cursor?: string; paused?: boolean } = {}): Promise<T.Page<T.Schedule>> {
    return this.backend.listSchedules(p);
  }
  delete(name: string): Promise<void> {
    return this.backend.deleteSchedule(name);
  }
  pause(name: string): Promise<T.Schedule> {
    return this.backend.pauseSchedule({ name });
  }
  /** Runs again from its next tick; ticks of the pause are not caught up. */
  resume(name: string): Promise<T.Schedule> {
    return this.backend.resumeSchedule({ name });
  }
  events(name: string, p: { limit?: number } = {}): Promise<T.ScheduleEvent[]> {
    return this.backend.getScheduleEvents(name, p);
  }
}
