import type { BackoffPolicy } from '../core/backoff.js';
import type { Json } from './json.js';

/** What becomes of ticks missed while no server ran (more than the scheduler's grace late). */
export type CatchUpPolicy = 'skip' | 'run';

/** The options every task a schedule creates gets. */
export interface ScheduleTaskOptions {
  queue?: string;
  priority?: number;
  maxAttempts?: number;
  timeoutMs?: number;
  backoff?: Partial<BackoffPolicy>;
  metadata?: Record<string, Json>;
  key?: string;
  userId?: string;
}

export interface UpsertScheduleParams {
  name: string;
  /** A cron expression (5 fields, or 6 with seconds); exactly one of cron and everyMs. */
  cron?: string | null;
  /** Every N milliseconds, counted from when the schedule was created (or its timing last changed). */
  everyMs?: number | null;
  /** IANA time zone the cron is read in (default UTC). */
  timezone?: string;
  type: string;
  payload?: Json;
  task?: ScheduleTaskOptions;
  /** Default skip. */
  catchUp?: CatchUpPolicy;
  /** With catchUp run: at most this many missed ticks run, the newest (default 10, 1–1000). */
  catchUpLimit?: number;
  /** Create it paused (or pause it); omitted keeps an existing schedule's state. */
  paused?: boolean;
  now?: Date;
}

export interface Schedule {
  name: string;
  cron: string | null;
  everyMs: number | null;
  timezone: string;
  type: string;
  payload: Json;
  task: ScheduleTaskOptions;
  catchUp: CatchUpPolicy;
  catchUpLimit: number;
  paused: boolean;
  /** The first tick not fired yet; null when a cron never runs again. */
  nextRunAt: Date | null;
  /** The next few ticks from nextRunAt on (empty while paused). */
  upcoming: Date[];
  lastTickAt: Date | null;
  lastTaskId: string | null;
  /** Ticks that created a task, and ticks skipped (missed beyond the catch-up policy). */
  runs: number;
  skipped: number;
  anchorAt: Date;
  createdAt: Date;
  updatedAt: Date;
}

export interface UpsertScheduleResult {
  schedule: Schedule;
  created: boolean;
}

export interface ScheduleEvent {
  id: number;
  schedule: string;
  kind: 'created' | 'updated' | 'paused' | 'resumed' | 'caught_up' | 'skipped';
  data: Record<string, Json>;
  at: Date;
}

/** One schedule's part of a scheduler round: the ticks it fired and skipped. */
export interface FiredSchedule {
  name: string;
  /** Ticks that created a task now (a tick whose task existed, fired by another server, is not here). */
  created: { tick: Date; taskId: string }[];
  /** Ticks whose task existed already (idempotency key). */
  existing: number;
  skipped: number;
  nextRunAt: Date | null;
}

export interface FireSchedulesParams {
  now?: Date;
  /** A tick at most this late is on time and always runs; later ones follow the catch-up policy. */
  graceMs?: number;
  /** Schedules handled per call. */
  limit?: number;
}

export interface FireSchedulesResult {
  fired: FiredSchedule[];
  /** The earliest next run of any active schedule after this round: when to look again. */
  nextDueAt: Date | null;
}
