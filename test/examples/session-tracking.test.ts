import { beforeAll, describe, expect, it } from 'vitest';
import { type DemoReport, runDemo, SHORT_ID } from '../../examples/session-tracking/demo.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

// Seed 001's "Testing" list (session creation and retrieval, cleanup, task integration,
// scenario generation behaviour) and its three API calls, against the example end to end.
describe('examples/session-tracking (seed 001)', () => {
  let r: DemoReport;
  beforeAll(async () => {
    r = await runDemo();
  });

  const at = (step: string) => r.snapshots.find((s) => s.step === step)!.entries;
  const types = (step: string) => at(step).sessions.map((e) => e.task_type);

  it('GET /entries/:shortId answers with the seed’s fields', () => {
    const body = at('created');
    expect(Object.keys(body).sort()).toEqual(['sessions', 'short_id', 'timestamp', 'total_sessions']);
    expect(body.short_id).toBe(SHORT_ID);
    expect(body.total_sessions).toBe(body.sessions.length);
    expect(body.timestamp).toMatch(ISO);
    for (const e of body.sessions) {
      expect(Object.keys(e).sort()).toEqual(
        ['created_at', 'short_id', 'status', 'task_id', 'task_type', 'updated_at', 'user_id'].sort(),
      );
      expect(e).toMatchObject({ short_id: SHORT_ID, user_id: 'user123', status: 'active' });
      expect(e.created_at).toMatch(ISO);
    }
  });

  it('creates an entry for every keyed task except scraping, and none for a task without a short_id', () => {
    expect(types('created').sort()).toEqual(
      ['data_extraction', 'image_analysis', 'scenario_generation', 'video_generation'].sort(),
    );
    expect(r.scrapingEntry.status).toBe(404);
    expect(r.keylessEntry.status).toBe(404);
  });

  it('GET /entries/task/:taskId shows the entry active while the task runs', () => {
    expect(r.taskStatusWhileRunning).toBe('running');
    expect(r.runningEntry.status).toBe(200);
    expect(r.runningEntry.body).toMatchObject({
      short_id: SHORT_ID,
      task_type: 'image_analysis',
      task_id: r.ids.image,
      user_id: 'user123',
      status: 'active',
    });
    expect(at('running').sessions.find((e) => e.task_id === r.ids.image)?.status).toBe('active');
  });

  it('removes entries by themselves on completion, failure and cancellation; keeps the held scenario', () => {
    const finished = at('finished');
    expect(finished.sessions).toHaveLength(1);
    expect(finished.sessions[0]).toMatchObject({
      task_type: 'scenario_generation',
      task_id: r.ids.scenario,
      status: 'completed',
    });
  });

  it('DELETE /entries/task/:taskId removes one entry by hand (404 the second time); the task stays', () => {
    expect(types('finalize queued')).toContain('finalize_short');
    expect(r.removeStatus).toBe(204);
    expect(r.removeAgainStatus).toBe(404);
    expect(r.afterRemove.status).toBe(404);
    expect(r.finalizeTaskAfterRemove.status).toBe('queued');
    expect(types('entry removed')).toEqual(['scenario_generation']);
  });

  it('releases the scenario-generation entries only when the save step runs', () => {
    expect(at('scenario saved')).toMatchObject({ total_sessions: 0, sessions: [] });
  });

  it('retention removes finished tasks older than 7 days, in a run with an injected clock', () => {
    const ret = r.retention;
    expect(ret.early).toMatchObject({ tasks: 0 });
    expect(ret.tasksAfterEarly).toBe(ret.tasksBefore);
    expect(ret.late!.tasks).toBe(ret.tasksBefore - 1);
    expect(ret.late!.events).toBeGreaterThan(0);
    expect(ret.tasksAfterLate).toBe(1);
    // Gaffer keeps a held entry until it is released, however old (see the README).
    expect(ret.remainingIds).toEqual([r.ids.unsaved]);
    expect(ret.unsavedEntries.map((e) => [e.task_id, e.status])).toEqual([[r.ids.unsaved, 'completed']]);
  });
});
