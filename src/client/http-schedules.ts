import type * as T from '../store/types.js';
import type { HttpCaller } from './http-caller.js';
import type { ScheduleBackend } from './schedules.js';

// JSON carries dates as ISO strings; these put Date objects back where the types say Date.
const dn = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as string));

export function reviveSchedule(s: T.Schedule): T.Schedule {
  return {
    ...s,
    nextRunAt: dn(s.nextRunAt),
    upcoming: s.upcoming.map((u) => new Date(u)),
    lastTickAt: dn(s.lastTickAt),
    anchorAt: new Date(s.anchorAt),
    createdAt: new Date(s.createdAt),
    updatedAt: new Date(s.updatedAt),
  };
}

const seg = encodeURIComponent;

/** The schedule calls of HttpBackend, over /api/v1/schedules. */
export function httpSchedules(http: HttpCaller): ScheduleBackend {
  return {
    async upsertSchedule(p) {
      const { name, now: _now, ...body } = p;
      const res = await http.call<T.UpsertScheduleResult>('PUT', `/schedules/${seg(name)}`, { body });
      return { schedule: reviveSchedule(res.schedule), created: res.created };
    },
    async getSchedule(name) {
      return reviveSchedule(await http.call<T.Schedule>('GET', `/schedules/${seg(name)}`));
    },
    async listSchedules(p = {}) {
      const page = await http.call<T.Page<T.Schedule>>('GET', '/schedules', {
        query: {
          limit: p.limit,
          cursor: p.cursor,
          paused: p.paused === undefined ? undefined : String(p.paused),
        },
      });
      return { items: page.items.map(reviveSchedule), nextCursor: page.nextCursor };
    },
    async deleteSchedule(name) {
      await http.call('DELETE', `/schedules/${seg(name)}`);
    },
    async pauseSchedule(p) {
      return reviveSchedule(await http.call<T.Schedule>('POST', `/schedules/${seg(p.name)}/pause`));
    },
    async resumeSchedule(p) {
      return reviveSchedule(await http.call<T.Schedule>('POST', `/schedules/${seg(p.name)}/resume`));
    },
    async getScheduleEvents(name, p = {}) {
      const res = await http.call<{ items: T.ScheduleEvent[] }>('GET', `/schedules/${seg(name)}/events`, {
        query: { limit: p.limit },
      });
      return res.items.map((e) => ({ ...e, at: new Date(e.at) }));
    },
  };
}
