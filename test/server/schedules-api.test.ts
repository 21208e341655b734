import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GafferClient } from '../../src/client/client.js';
import { HttpBackend } from '../../src/client/http-backend.js';
import { GafferError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/engine/logger.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import type { SqlStore } from '../../src/store/index.js';
import { client, conformance, dropSchema, expectProblem, openTestStore, waitFor } from './helpers.js';

let store: SqlStore;
let server: RunningServer;
let call: ReturnType<typeof client>;
let conforms: ReturnType<typeof conformance>;

beforeAll(async () => {
  store = await openTestStore();
  // The server's own scheduler runs (fast poll) so a schedule made over HTTP really ticks.
  server = await startServer({
    store,
    port: 0,
    logger: silentLogger,
    maintenance: false,
    scheduler: { pollIntervalMs: 50 },
  });
  call = client(server.app);
  conforms = conformance((await call('GET', '/api/openapi.json')).body);
});

afterAll(async () => {
  await server?.close();
  await store?.close();
  if (store) await dropSchema(store.options.schema);
});

describe('/api/v1/schedules', () => {
  it('creates, changes, lists with next run times, pauses, resumes and deletes', async () => {
    const created = await call('PUT', '/api/v1/schedules/nightly', {
      cron: '0 2 * * *',
      timezone: 'America/New_York',
      type: 'report.nightly',
      payload: { scope: 'all' },
      task: { queue: 'reports', maxAttempts: 2 },
      catchUp: 'run',
      catchUpLimit: 3,
    });
    expect(created.status).toBe(201);
    conforms('PUT', '/api/v1/schedules/{name}', created);
    const s = created.body.schedule;
    expect(s).toMatchObject({ name: 'nightly', catchUp: 'run', catchUpLimit: 3, paused: false });
    expect(s.upcoming).toHaveLength(5);
    // 02:00 in New York is 06:00 or 07:00 UTC, whichever daylight saving says.
    expect(new Date(s.nextRunAt).getUTCHours()).toBeGreaterThanOrEqual(6);
    expect(new Date(s.nextRunAt).getUTCHours()).toBeLessThanOrEqual(7);

    const changed = await call('PUT', '/api/v1/schedules/nightly', {
      cron: '0 3 * * *',
      type: 'report.nightly',
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ created: false, schedule: { cron: '0 3 * * *', timezone: 'UTC' } });

    const list = await call('GET', '/api/v1/schedules');
    conforms('GET', '/api/v1/schedules', list);
    expect(list.body.items.map((x: { name: string }) => x.name)).toContain('nightly');

    const paused = await call('POST', '/api/v1/schedules/nightly/pause');
    expect(paused.body).toMatchObject({ paused: true, upcoming: [] });
    conforms('POST', '/api/v1/schedules/{name}/pause', paused);
    const resumed = await call('POST', '/api/v1/schedules/nightly/resume');
    expect(resumed.body.paused).toBe(false);
    const events = await call('GET', '/api/v1/schedules/nightly/events');
    conforms('GET', '/api/v1/schedules/{name}/events', events);
    expect(events.body.items.map((e: { kind: string }) => e.kind)).toEqual([
      'resumed',
      'paused',
      'updated',
      'created',
    ]);

    expect((await call('DELETE', '/api/v1/schedules/nightly')).status).toBe(204);
    expectProblem(await call('GET', '/api/v1/schedules/nightly'), 404, 'not_found');
  });

  it('answers a bad cron and time zone with a problem listing both fields', async () => {
    const bad = await call('PUT', '/api/v1/schedules/bad', {
      cron: '61 * * * *',
      timezone: 'Mars/Base',
      type: 'x',
    });
    const p = expectProblem(bad, 400, 'validation');
    expect(p.errors?.map((e) => e.field).sort()).toEqual(['cron', 'timezone']);
    expect(p.detail).toMatch(/cron/);
    const neither = expectProblem(
      await call('PUT', '/api/v1/schedules/bad', { type: 'x' }),
      400,
      'validation',
    );
    expect(neither.field).toBe('cron');
    expect(neither.detail).toMatch(/exactly one of cron and everyMs/);
    const extra = expectProblem(
      await call('PUT', '/api/v1/schedules/bad', { everyMs: 10, type: 'x', task: { queu: 'q' } }),
      400,
      'validation',
    );
    expect(extra.errors?.map((e) => e.field).sort()).toEqual(['everyMs', 'task.queu']);
  });

  it('ticks through the server’s scheduler, and the SDK over HTTP drives the same schedule', async () => {
    const sdk = new GafferClient(new HttpBackend({ url: server.url }));
    const out = await sdk.schedules.upsert('every-200', {
      everyMs: 200,
      type: 'tick',
      task: { queue: 'sched-http' },
    });
    expect(out.created).toBe(true);
    expect(out.schedule.nextRunAt).toBeInstanceOf(Date);
    await waitFor(async () => (await sdk.list({ queue: 'sched-http' })).items.length >= 2, 'two ticks');
    const paused = await sdk.schedules.pause('every-200');
    expect(paused.paused).toBe(true);
    const n = (await sdk.list({ queue: 'sched-http' })).items.length;
    const got = await sdk.schedules.get('every-200');
    expect(got.runs).toBeGreaterThanOrEqual(n - 1);
    expect((await sdk.schedules.list()).items.some((x) => x.name === 'every-200')).toBe(true);
    await sdk.schedules.delete('every-200');
    const err = await sdk.schedules.get('every-200').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GafferError);
    expect((err as GafferError).code).toBe('not_found');
  });
});
