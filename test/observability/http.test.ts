import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/engine/logger.js';
import { buildServer, type GafferServer } from '../../src/server/app.js';
import type { Store } from '../../src/store/store.js';
import { DRIVERS, parseMetrics, sample } from './helpers.js';

describe.each(DRIVERS)('/metrics and /api/v1/alerts over HTTP ($name)', ({ make, drop }) => {
  let store: Store;
  let server: GafferServer;
  let clock = new Date();

  beforeAll(async () => {
    store = await make();
    server = await buildServer({
      store,
      logger: silentLogger,
      maintenance: false,
      metrics: { cacheMs: 0 },
      alerts: { now: () => clock, rules: { deadLetters: { threshold: 0 } } },
    });
  });
  afterAll(async () => {
    await server.close();
    await drop(store);
  });

  const get = (url: string, headers: Record<string, string> = {}) =>
    server.app.inject({ method: 'GET', url, headers });

  it('serves Prometheus text that moves with work done through the API', async () => {
    const created = await server.app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      payload: { type: 'http.metric', queue: 'web', payload: { n: 1 } },
    });
    expect(created.statusCode).toBe(201);
    const res = await get('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toContain('# TYPE gaffer_tasks_created_total counter');
    const m = parseMetrics(res.body);
    expect(sample(m, 'gaffer_tasks_created_total', { type: 'http.metric', queue: 'web' })).toBe(1);
    expect(sample(m, 'gaffer_queue_depth', { queue: 'web', status: 'queued' })).toBe(1);
    expect(sample(m, 'gaffer_store_up')).toBe(1);
  });

  it('lists alerts with their fired and resolved times, firing first', async () => {
    expect((await get('/api/v1/alerts')).json()).toEqual({ items: [] });
    const w = await store.registerWorker({ machineId: 'http-machine', types: ['http.metric'] });
    const [t] = await store.claimTasks({ workerId: w.id, limit: 1, types: ['http.metric'] });
    await store.failTask({
      taskId: t!.id,
      attempt: t!.attempt,
      workerId: w.id,
      error: { message: 'nope', retryable: false },
    });
    const out = await server.alerts.evaluate();
    expect(out?.fired.map((a) => a.rule)).toEqual(['dead_letters']);

    const firing = (await get('/api/v1/alerts?status=firing')).json();
    expect(firing.items).toHaveLength(1);
    expect(firing.items[0]).toMatchObject({
      rule: 'dead_letters',
      status: 'firing',
      severity: 'warning',
      value: 1,
      threshold: 0,
      firedAt: clock.toISOString(),
      resolvedAt: null,
    });

    await store.deleteTask(t!.id);
    clock = new Date(clock.getTime() + 60_000);
    await server.alerts.evaluate();
    const all = (await get('/api/v1/alerts')).json();
    expect(all.items[0]).toMatchObject({ status: 'resolved', resolvedAt: clock.toISOString() });
    expect((await get('/api/v1/alerts?status=firing')).json()).toEqual({ items: [] });

    const bad = await get('/api/v1/alerts?status=loud');
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toMatch(/problem\+json/);
  });

  it('documents both in the OpenAPI document', async () => {
    const doc = (await get('/api/openapi.json')).json();
    expect(doc.paths['/metrics']?.get).toBeDefined();
    expect(doc.paths['/api/v1/alerts']?.get).toBeDefined();
  });

  it('needs a token for both once auth is on', async () => {
    const admin = await server.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      payload: { name: 'obs-admin', role: 'admin' },
    });
    expect(admin.statusCode).toBe(201);
    const producer = await server.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      payload: { name: 'prometheus', role: 'producer' },
      headers: { authorization: `Bearer ${admin.json().token}` },
    });
    expect(producer.statusCode).toBe(201);
    expect((await get('/metrics')).statusCode).toBe(401);
    expect((await get('/api/v1/alerts')).statusCode).toBe(401);
    const auth = { authorization: `Bearer ${producer.json().token}` };
    expect((await get('/metrics', auth)).statusCode).toBe(200);
    expect((await get('/api/v1/alerts', auth)).statusCode).toBe(200);
  });
});
