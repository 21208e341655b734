import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/engine/logger.js';
import { MaintenanceService } from '../../src/engine/maintenance.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import type { SqlStore } from '../../src/store/index.js';
import { client, dropSchema, expectProblem, openTestStore } from './helpers.js';

let store: SqlStore;
let server: RunningServer;
let call: ReturnType<typeof client>;

beforeAll(async () => {
  store = await openTestStore();
  server = await startServer({ store, port: 0, logger: silentLogger, maintenance: false });
  call = client(server.app);
});

afterAll(async () => {
  await server?.close();
  await store?.close();
  if (store) await dropSchema(store.options.schema);
});

type Ref = { id: string; sessionIndex: number; status: string };

/** Runs one task to completion through the store's worker side. */
async function finish(taskId: string): Promise<void> {
  const t = await store.getTask(taskId);
  const w = await store.registerWorker({ machineId: 'm', types: [t.type], queues: [t.queue] });
  const session = t.sessionId;
  const claimed = session
    ? await store.claimSessionTask({ workerId: w.id, sessionId: session, index: t.sessionIndex ?? undefined })
    : (await store.claimTasks({ workerId: w.id, types: [t.type], limit: 1 }))[0]!;
  expect(claimed.id).toBe(taskId);
  await store.completeTasks([{ taskId, attempt: claimed.attempt }]);
}

describe('sessions', () => {
  it('creates a session with indexed tasks; a re-send duplicates nothing and retries failed ones', async () => {
    const body = {
      id: 'job-77',
      key: 'shop-1',
      userId: 'u1',
      metadata: { source: 'seed-000' },
      tasks: [
        { type: 'llm', id: 'job-77-openai', payload: { provider: 'openai' } },
        { type: 'llm', id: 'job-77-anthropic', payload: { provider: 'anthropic' } },
        { type: 'llm', id: 'job-77-mistral', payload: { provider: 'mistral' } },
      ],
    };
    const a = await call('POST', '/api/v1/sessions', body);
    expect(a.status).toBe(201);
    expect(a.body.created).toBe(true);
    expect(a.body.tasks.map((t: Ref) => t.sessionIndex)).toEqual([0, 1, 2]);
    expect(a.body.session).toMatchObject({ id: 'job-77', key: 'shop-1', status: 'active', taskCount: 3 });

    // One task dead-letters; sending the session again retries it and touches nothing else.
    const w = await store.registerWorker({ machineId: 'm', types: ['llm'] });
    const t = await store.claimSessionTask({ workerId: w.id, sessionId: 'job-77', index: 1 });
    await store.failTask({ taskId: t.id, attempt: t.attempt, error: { message: 'quota', retryable: false } });
    const again = await call('POST', '/api/v1/sessions', body);
    expect(again.status).toBe(200);
    expect(again.body.created).toBe(false);
    expect(again.body.outcomes).toEqual(['existing', 'retried', 'existing']);
    expect((await call('GET', '/api/v1/tasks/counts?sessionId=job-77')).body.total).toBe(3);

    const got = await call('GET', '/api/v1/sessions/job-77');
    expect(got.body.tasks.map((x: Ref) => x.id)).toEqual([
      'job-77-openai',
      'job-77-anthropic',
      'job-77-mistral',
    ]);
    expect(got.body.session.counts).toMatchObject({ queued: 2, retrying: 1 });
  });

  it('refuses bad sessions with 400 naming the field, and 404 for unknown ones', async () => {
    expect(
      expectProblem(
        await call('POST', '/api/v1/sessions', { tasks: [{ type: 'ok' }, { type: 'not ok' }] }),
        400,
        'validation',
      ).field,
    ).toBe('tasks[1].type');
    expect(
      expectProblem(
        await call('POST', '/api/v1/sessions', { tasks: [{ type: 'a', sessionId: 'x' }] }),
        400,
        'validation',
      ).field,
    ).toBe('tasks[0].sessionId');
    expectProblem(await call('POST', '/api/v1/sessions', {}), 400, 'validation');
    for (const [method, url] of [
      ['GET', '/api/v1/sessions/nope'],
      ['DELETE', '/api/v1/sessions/nope'],
      ['POST', '/api/v1/sessions/nope/cancel'],
      ['POST', '/api/v1/sessions/nope/retry-failed'],
    ] as const) {
      expectProblem(await call(method, url), 404, 'not_found');
    }
    expectProblem(await call('GET', '/api/v1/sessions?status=busy'), 400, 'validation');
    expectProblem(await call('GET', '/api/v1/sessions?limit=5000'), 400, 'validation');
  });

  it('lists by key, cancels all, retries failed, deletes', async () => {
    for (const id of ['s-a', 's-b', 's-c']) {
      await call('POST', '/api/v1/sessions', { id, key: 'grid-1', tasks: [{ type: 'q' }, { type: 'q' }] });
    }
    const list = await call('GET', '/api/v1/sessions?key=grid-1&limit=2');
    expect(list.body.items.map((s: { id: string }) => s.id)).toEqual(['s-c', 's-b']);
    const rest = await call('GET', `/api/v1/sessions?key=grid-1&limit=2&cursor=${list.body.nextCursor}`);
    expect(rest.body.items.map((s: { id: string }) => s.id)).toEqual(['s-a']);
    const cancelled = await call('POST', '/api/v1/sessions/s-a/cancel', { reason: 'user left' });
    expect(cancelled.body).toMatchObject({ matched: 2, changed: 2 });
    expect(
      (await call('GET', '/api/v1/sessions?key=grid-1&status=cancelled')).body.items.map(
        (s: { id: string }) => s.id,
      ),
    ).toEqual(['s-a']);
    const retried = await call('POST', '/api/v1/sessions/s-a/retry-failed');
    expect(retried.body.changed).toBe(0);
    expect((await call('DELETE', '/api/v1/sessions/s-b')).status).toBe(204);
    expect((await call('GET', '/api/v1/tasks/counts?sessionId=s-b')).body.total).toBe(0);
  });
});

describe('session entries (seed 001)', () => {
  it('lists open entries of a key with seed 001’s fields; tracked entries leave by themselves', async () => {
    const created = await call('POST', '/api/v1/tasks/bulk', {
      tasks: [
        { type: 'scenario.generate', key: 'ABC123', userId: 'user-1' },
        { type: 'scenario.generate', key: 'ABC123', userId: 'user-1' },
      ],
    });
    const [t1, t2] = created.body.tasks as Ref[];
    const a = await call('GET', '/api/v1/entries/ABC123');
    expect(a.status).toBe(200);
    expect(Object.keys(a.body).sort()).toEqual(['sessions', 'short_id', 'timestamp', 'total_sessions']);
    expect(a.body.short_id).toBe('ABC123');
    expect(a.body.total_sessions).toBe(2);
    expect(Object.keys(a.body.sessions[0]).sort()).toEqual(
      ['created_at', 'short_id', 'status', 'task_id', 'task_type', 'updated_at', 'user_id'].sort(),
    );
    expect(a.body.sessions[0]).toMatchObject({
      short_id: 'ABC123',
      task_type: 'scenario.generate',
      task_id: t1!.id,
      status: 'active',
    });
    expect(Number.isNaN(Date.parse(a.body.timestamp))).toBe(false);
    await finish(t1!.id);
    const b = await call('GET', '/api/v1/entries/ABC123');
    expect(b.body.sessions.map((e: { task_id: string }) => e.task_id)).toEqual([t2!.id]);
    expect((await call('GET', `/api/v1/entries/task/${t2!.id}`)).body.task_id).toBe(t2!.id);
    expectProblem(await call('GET', `/api/v1/entries/task/${t1!.id}`), 404, 'not_found');
    expect((await call('GET', '/api/v1/entries/NOBODY')).body).toMatchObject({
      sessions: [],
      total_sessions: 0,
    });
  });

  it('keeps hold entries after they finish until released by task or by key + type; none makes no entry', async () => {
    await call('PUT', '/api/v1/task-types/scenario.hold', { tracking: 'hold' });
    await call('PUT', '/api/v1/task-types/scrape.none', { tracking: 'none' });
    const created = await call('POST', '/api/v1/tasks/bulk', {
      tasks: [
        { type: 'scenario.hold', key: 'K9' },
        { type: 'scenario.hold', key: 'K9' },
        { type: 'scenario.hold', key: 'K9' },
        { type: 'scrape.none', key: 'K9' },
      ],
    });
    const ids = (created.body.tasks as Ref[]).map((t) => t.id);
    for (const id of ids.slice(0, 3)) await finish(id);
    const open = await call('GET', '/api/v1/entries/K9');
    expect(open.body.sessions.map((e: { task_id: string }) => e.task_id)).toEqual(ids.slice(0, 3));
    expect(open.body.sessions[0].status).toBe('completed');
    // Release by task: seed 001's "remove the entry of a task".
    expect((await call('DELETE', `/api/v1/entries/task/${ids[0]}`)).status).toBe(204);
    expectProblem(await call('DELETE', `/api/v1/entries/task/${ids[0]}`), 404, 'not_found');
    const one = await call('POST', '/api/v1/entries/release', { taskId: ids[1] });
    expect(one.body).toEqual({ released: 1 });
    // Release by key + type: the save-scenario step releases what is left.
    const rest = await call('POST', '/api/v1/entries/release', { key: 'K9', type: 'scenario.hold' });
    expect(rest.body).toEqual({ released: 1 });
    expect((await call('GET', '/api/v1/entries/K9')).body.total_sessions).toBe(0);
    expect(
      expectProblem(await call('POST', '/api/v1/entries/release', { key: 'K9' }), 400, 'validation').field,
    ).toBe('type');
    expectProblem(await call('POST', '/api/v1/entries/release', { taskId: 'a b' }), 400, 'validation');
    expectProblem(await call('GET', `/api/v1/entries/${'k'.repeat(300)}`), 400, 'validation');
  });

  it('retention removes finished work older than the cutoff and keeps the rest', async () => {
    const old = await call('POST', '/api/v1/sessions', {
      id: 'old-session',
      key: 'R1',
      tasks: [{ type: 'ret' }],
    });
    await finish(old.body.tasks[0].id);
    const live = await call('POST', '/api/v1/tasks', { type: 'ret-live' });
    await call('PUT', '/api/v1/task-types/ret-hold', { tracking: 'hold' });
    const held = await call('POST', '/api/v1/tasks', { type: 'ret-hold', key: 'R1' });
    await finish(held.body.task.id);

    const maintenance = new MaintenanceService(store, {
      retentionMs: 7 * 24 * 3600_000,
      logger: silentLogger,
    });
    // Nothing is old enough yet.
    const now = await maintenance.retain(new Date());
    expect(now?.tasks).toBe(0);
    // Eight days on, finished tasks and their empty session go; unfinished and held ones stay.
    const later = await maintenance.retain(new Date(Date.now() + 8 * 24 * 3600_000));
    expect(later?.tasks).toBeGreaterThanOrEqual(1);
    expectProblem(await call('GET', `/api/v1/tasks/${old.body.tasks[0].id}`), 404, 'not_found');
    expectProblem(await call('GET', '/api/v1/sessions/old-session'), 404, 'not_found');
    expect((await call('GET', `/api/v1/tasks/${live.body.task.id}`)).status).toBe(200);
    expect((await call('GET', `/api/v1/tasks/${held.body.task.id}`)).status).toBe(200);
    // Once released, the held task goes too.
    await call('POST', '/api/v1/entries/release', { taskId: held.body.task.id });
    await maintenance.retain(new Date(Date.now() + 8 * 24 * 3600_000));
    expectProblem(await call('GET', `/api/v1/tasks/${held.body.task.id}`), 404, 'not_found');
  });
});

describe('workers, stats and the live stream', () => {
  it('lists live workers (stale ones with includeStale=true), shows one, deletes one', async () => {
    const live = await call('POST', '/api/v1/worker/register', {
      machineId: 'pc-7',
      name: 'slot-0',
      types: ['w'],
    });
    const gone = await call('POST', '/api/v1/worker/register', { machineId: 'pc-8', types: ['w'] });
    await call('DELETE', `/api/v1/worker/${gone.body.workerId}`);
    const list = await call('GET', '/api/v1/workers');
    const ids = list.body.items.map((w: { id: string }) => w.id);
    expect(ids).toContain(live.body.workerId);
    expect(ids).not.toContain(gone.body.workerId);
    const all = await call('GET', '/api/v1/workers?includeStale=true');
    expect(all.body.items.map((w: { id: string }) => w.id)).toContain(gone.body.workerId);
    expectProblem(await call('GET', '/api/v1/workers?includeStale=yes'), 400, 'validation');

    await call('POST', '/api/v1/tasks', { type: 'w', id: 'w-task' });
    await call('POST', `/api/v1/worker/${live.body.workerId}/claim`, {});
    await call('PUT', `/api/v1/worker/${live.body.workerId}/state`, { state: { scene: 'loading' } });
    const one = await call('GET', `/api/v1/workers/${live.body.workerId}`);
    expect(one.body.worker).toMatchObject({
      machineId: 'pc-7',
      name: 'slot-0',
      state: { scene: 'loading' },
      stale: false,
    });
    expect(one.body.currentTasks.map((t: Ref) => t.id)).toEqual(['w-task']);
    expect(one.body.events.map((e: { kind: string }) => e.kind)).toEqual(['state', 'registered']);
    expect(
      (await call('GET', `/api/v1/workers/${live.body.workerId}/events?limit=1`)).body.items,
    ).toHaveLength(1);
    expectProblem(await call('GET', '/api/v1/workers/nope'), 404, 'not_found');
    expectProblem(await call('GET', '/api/v1/workers/nope/events'), 404, 'not_found');

    expect((await call('DELETE', `/api/v1/workers/${live.body.workerId}`)).status).toBe(204);
    expect((await store.getTask('w-task')).status).toBe('retrying');
    expectProblem(await call('DELETE', `/api/v1/workers/${live.body.workerId}`), 404, 'not_found');
  });

  it('serves stats and a live stream of snapshots', async () => {
    const stats = await call('GET', '/api/v1/stats');
    expect(Object.keys(stats.body).sort()).toEqual(['counts', 'queues', 'workers']);
    expect(stats.body.counts.total).toBeGreaterThan(0);
    expect(stats.body.workers).toHaveProperty('live');

    const events = await new Promise<string>((resolve, reject) => {
      const req = request(`${server.url}/api/v1/live`, (res) => {
        expect(res.headers['content-type']).toMatch(/text\/event-stream/);
        let buf = '';
        res.on('data', (chunk) => {
          buf += String(chunk);
          if (/event: snapshot\ndata: .*\n/.test(buf)) {
            req.destroy();
            resolve(buf);
          }
        });
      });
      req.on('error', reject);
      req.end();
    });
    const first = events.split('event: snapshot\ndata: ')[1]!.split('\n')[0]!;
    const snap = JSON.parse(first);
    expect(snap).toHaveProperty('counts');
    expect(snap).toHaveProperty('queues');
    expect(snap.workers).toHaveProperty('stale');
  });
});
