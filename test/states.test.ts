import { describe, expect, it } from 'vitest';
import {
  deriveSessionStatus,
  FINISHED_STATUSES,
  isFinished,
  isLegalTransition,
  isTaskStatus,
  RUNNABLE_STATUSES,
  TASK_STATUSES,
  type TaskStatus,
  UNFINISHED_STATUSES,
} from '../src/core/states.js';

/**
 * The SPEC's state table, written out as a 7×7 matrix (row: from, column: to); waiting is issue 15's.
 * retrying → running is legal because "an implementation may claim it straight from" retrying.
 */
const COLUMNS: TaskStatus[] = [
  'waiting',
  'queued',
  'running',
  'retrying',
  'completed',
  'failed',
  'cancelled',
];
const SPEC_MATRIX: Record<TaskStatus, [number, number, number, number, number, number, number]> = {
  //          waiting queued running retrying completed failed cancelled
  waiting: /*   */ [0, 1, 0, 0, 0, 1, 1],
  queued: /*    */ [1, 0, 1, 0, 0, 0, 1],
  running: /*   */ [1, 1, 0, 1, 1, 1, 1],
  retrying: /*  */ [0, 1, 1, 0, 0, 0, 1],
  completed: /* */ [0, 0, 0, 0, 0, 0, 0],
  failed: /*    */ [0, 0, 0, 1, 0, 0, 0],
  cancelled: /* */ [0, 0, 0, 1, 0, 0, 0],
};

describe('isLegalTransition', () => {
  it('the matrix covers exactly the seven statuses', () => {
    expect([...TASK_STATUSES].sort()).toEqual([...COLUMNS].sort());
    expect(Object.keys(SPEC_MATRIX).sort()).toEqual([...COLUMNS].sort());
  });

  for (const from of COLUMNS) {
    for (const [i, to] of COLUMNS.entries()) {
      const legal = SPEC_MATRIX[from][i] === 1;
      it(`${from} -> ${to} is ${legal ? 'legal' : 'refused'}`, () => {
        expect(isLegalTransition(from, to)).toBe(legal);
      });
    }
  }

  it('completed is final: no transition leaves it', () => {
    expect(TASK_STATUSES.filter((to) => isLegalTransition('completed', to))).toEqual([]);
  });

  it('only failed and cancelled tasks can be retried, and only into retrying', () => {
    const intoRetrying = TASK_STATUSES.filter((from) => isLegalTransition(from, 'retrying'));
    expect(intoRetrying.sort()).toEqual(['cancelled', 'failed', 'running']);
  });
});

describe('status groups', () => {
  it('partition the statuses into unfinished and finished, runnable being unfinished', () => {
    expect([...UNFINISHED_STATUSES, ...FINISHED_STATUSES].sort()).toEqual([...TASK_STATUSES].sort());
    for (const s of RUNNABLE_STATUSES) expect(UNFINISHED_STATUSES).toContain(s);
    expect([...RUNNABLE_STATUSES].sort()).toEqual(['queued', 'retrying']);
  });

  it('isFinished and isTaskStatus', () => {
    expect(TASK_STATUSES.filter(isFinished).sort()).toEqual(['cancelled', 'completed', 'failed']);
    expect(isTaskStatus('running')).toBe(true);
    expect(isTaskStatus('done')).toBe(false);
    expect(isTaskStatus('')).toBe(false);
  });
});

describe('deriveSessionStatus', () => {
  it('is active while any task is unfinished', () => {
    expect(deriveSessionStatus({ completed: 5, queued: 1 })).toBe('active');
    expect(deriveSessionStatus({ failed: 2, running: 1 })).toBe('active');
    expect(deriveSessionStatus({ cancelled: 1, retrying: 1 })).toBe('active');
  });

  it('then failed if any failed, else cancelled if any cancelled, else completed', () => {
    expect(deriveSessionStatus({ completed: 3, failed: 1, cancelled: 1 })).toBe('failed');
    expect(deriveSessionStatus({ completed: 3, cancelled: 1 })).toBe('cancelled');
    expect(deriveSessionStatus({ completed: 3 })).toBe('completed');
  });
});
