import { beforeAll, describe, expect, it } from 'vitest';
import {
  ASSIGNMENTS,
  type DemoReport,
  KILLED,
  LEASE_MS,
  PYTHON,
  runDemo,
  STALE_AFTER_MS,
} from '../../examples/study-fleet/demo.js';

// Seed 002's "Testing Checklist", against the example end to end: real worker processes
// (`gaffer worker N <study>` and the Python worker), one of them SIGKILLed mid-run.
describe('examples/study-fleet (seed 002)', () => {
  let r: DemoReport;
  const serverLog: Record<string, unknown>[] = [];
  beforeAll(async () => {
    r = await runDemo({ onLog: (l) => serverLog.push(l) });
  }, 90_000);

  const indexes = Array.from({ length: ASSIGNMENTS }, (_, i) => i);

  it('assignment indices stay stable: listed by index, the same task at the same index from creation on', () => {
    expect(r.final.tasks.map((t) => t.sessionIndex)).toEqual(indexes);
    expect(r.final.tasks.map((t) => t.id)).toEqual(r.created);
    for (const t of r.final.tasks) {
      expect(t.result).toMatchObject({ index: t.sessionIndex });
      expect(t.payload).toMatchObject({ splitConfig: { from: t.sessionIndex! * 250 } });
    }
  });

  it('`gaffer worker N <study>` claims assignment N (the Python worker too) and exits 0', () => {
    for (const i of indexes) {
      const t = r.final.tasks[i]!;
      expect(t.status).toBe('completed');
      expect(t.machineId).toBe(`pc-${i}`);
      expect((t.result as { language: string }).language).toBe(i === PYTHON ? 'python' : 'typescript');
    }
    const finished = r.processes.filter((p) => p.signal === null);
    expect(finished.map((p) => p.index).sort()).toEqual(indexes);
    for (const p of finished) {
      expect(p.code, p.lines.join('\n')).toBe(0);
      expect(p.lines).toContain(`assignment ${p.index} of session ${r.studyId}: task ${r.created[p.index]}`);
    }
  });

  it('a killed worker goes stale after its stale window with no heartbeat, and its assignment is freed', () => {
    const killed = r.processes.find((p) => p.signal === 'SIGKILL')!;
    expect(killed.index).toBe(KILLED);
    expect(r.killed.progressBeforeKill).toMatchObject({ done: expect.any(Number), total: 8 });
    expect(r.killed.worker).toMatchObject({ id: r.killed.workerId, stale: true, machineId: `pc-${KILLED}` });
    expect(r.killed.worker.staleReason).toMatch(/no heartbeat/);
    expect(r.killed.msToStale).toBeGreaterThan(STALE_AFTER_MS - LEASE_MS);
    expect(r.killed.msToStale).toBeLessThan(STALE_AFTER_MS + 5000);
    // Open question 4 of the seed: the assignment does not stay with the dead worker.
    expect(r.killed.task.status).toBe('retrying');
    expect(r.killed.task.error).toMatchObject({ kind: 'lost' });
    expect(serverLog.some((l) => l.event === 'worker_stale' && l.workerId === r.killed.workerId)).toBe(true);
  });

  it('a new connection from the same PC is a new worker; a second registration makes the first stale at once', () => {
    const replacement = r.final.tasks[KILLED]!;
    expect(replacement.workerId).not.toBe(r.killed.workerId);
    expect(replacement.machineId).toBe(r.killed.worker.machineId);
    expect(replacement.attempt).toBe(2);
    expect(r.reconnect.second).not.toBe(r.reconnect.first);
    expect(r.reconnect.firstAfter.stale).toBe(true);
    expect(r.reconnect.firstAfter.staleReason).toContain(r.reconnect.second);
  });

  it('stale workers are left out of the live list by default, shown with includeStale', () => {
    expect(r.fleet.live.map((w) => w.id)).not.toContain(r.killed.workerId);
    expect(r.fleet.live.every((w) => !w.stale)).toBe(true);
    const all = r.fleet.all.find((w) => w.id === r.killed.workerId);
    expect(all?.stale).toBe(true);
  });

  it('the assignment links to the active worker (the "View Worker" link), not the dead one', () => {
    expect(r.fleet.task.status).toBe('running');
    expect(r.fleet.live.map((w) => w.id)).toContain(r.fleet.task.workerId);
    expect(r.final.tasks[KILLED]!.workerId).toBe(r.fleet.task.workerId);
  });

  it('workers report progress and free-form state, kept with a history', () => {
    for (const t of r.final.tasks) expect(t.progress).toEqual({ done: 8, total: 8 });
    for (const d of [r.details.typescript, r.details.python]) {
      expect(d.status).toBe(200);
      expect(d.worker?.state).toMatchObject({ study: r.studyId, phase: 'done' });
      expect(d.events?.filter((e) => e.kind === 'state').length).toBeGreaterThan(1);
    }
    expect(r.details.python.worker?.state).toMatchObject({ assignment: PYTHON });
  });

  it('deleting a worker takes its state and events; the tasks it ran keep their history', () => {
    expect(r.deleteWorker).toMatchObject({ status: 204, getAfter: 404, eventsAfter: 404 });
    const claims = r.deleteWorker.taskEvents.filter((e) => e.kind === 'claimed').map((e) => e.workerId);
    expect(claims).toContain(r.killed.workerId);
  });

  it('deleting the super study cascades to its assignments', () => {
    expect(r.deleteStudy).toEqual({ status: 204, sessionAfter: 404, tasksAfter: 0, taskAfter: 404 });
  });
});
