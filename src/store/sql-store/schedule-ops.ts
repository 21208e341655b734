import { NotFoundError } from '../../core/errors.js';
import type * as S from '../schedule-types.js';
import { fireSchedule, setSchedulePaused, upsertSchedule } from '../sql/schedule-fire.js';
import * as schedules from '../sql/schedules.js';
import type * as T from '../types.js';

import { SqlWorkerOps } from './worker-ops.js';

/** Schedules: their definitions, and the scheduler's round that fires the due ones. */
export abstract class SqlScheduleOps extends SqlWorkerOps {
  upsertSchedule(p: S.UpsertScheduleParams): Promise<S.UpsertScheduleResult> {
    return this.tx((tx) => upsertSchedule(tx, p));
  }

  async getSchedule(name: string): Promise<S.Schedule> {
    const row = await schedules.getSchedule(this.db, name);
    if (!row) throw new NotFoundError('schedule', name);
    return schedules.rowToSchedule(row);
  }

  listSchedules(p: { limit?: number; cursor?: string; paused?: boolean } = {}): Promise<T.Page<S.Schedule>> {
    return schedules.listSchedules(this.db, p);
  }

  async deleteSchedule(name: string): Promise<void> {
    const res = await this.db.query('delete from schedules where name = $1', [name]);
    if (res.rowCount === 0) throw new NotFoundError('schedule', name);
  }

  pauseSchedule(p: { name: string; now?: Date }): Promise<S.Schedule> {
    return this.tx((tx) => setSchedulePaused(tx, p.name, true, p.now));
  }

  resumeSchedule(p: { name: string; now?: Date }): Promise<S.Schedule> {
    return this.tx((tx) => setSchedulePaused(tx, p.name, false, p.now));
  }

  async getScheduleEvents(name: string, p: { limit?: number } = {}): Promise<S.ScheduleEvent[]> {
    const events = await schedules.getScheduleEvents(this.db, name, p.limit ?? 100);
    if (events.length === 0) await this.getSchedule(name);
    return events;
  }

  /**
   * One scheduler round: every due schedule fired in its own transaction (so one schedule's failure
   * does not hold back the others), each locked with SKIP LOCKED, so servers firing at once share
   * the work instead of waiting on each other; a tick's idempotency key makes it one task whatever
   * they do.
   */
  async fireDueSchedules(p: S.FireSchedulesParams = {}): Promise<S.FireSchedulesResult> {
    const graceMs = p.graceMs ?? 5000;
    const now = await schedules.dbNow(this.db, p.now);
    const names = await schedules.dueScheduleNames(this.db, now, p.limit ?? 100);
    const fired: S.FiredSchedule[] = [];
    for (const name of names) {
      const out = await this.tx(async (tx) => {
        const row = await schedules.lockDueSchedule(tx, name, now);
        return row ? fireSchedule(tx, row, now, graceMs, this.options) : null;
      });
      if (out) fired.push(out);
    }
    return { fired, nextDueAt: await schedules.nextDueAt(this.db) };
  }
}
