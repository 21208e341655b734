import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AlertMessage, AlertService, evaluateRules, resolveRules } from '../../src/engine/alerts.js';
import { createLogger, silentLogger } from '../../src/engine/logger.js';
import { MaintenanceService } from '../../src/engine/maintenance.js';
import { WebhookNotifier } from '../../src/engine/webhook.js';
import type { MetricsSnapshot } from '../../src/store/observability.js';
import type { Store } from '../../src/store/store.js';
import { DRIVERS, LogCapture } from './helpers.js';

/** A local receiver: answers each request with the next status of `script` (then 200), keeps the bodies. */
async function receiver(
  script: number[] = [],
): Promise<{ url: string; bodies: AlertMessage[]; hits: number; server: Server }> {
  const state = { bodies: [] as AlertMessage[], hits: 0 };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const status = script[state.hits] ?? 200;
      state.hits++;
      if (status === 200) state.bodies.push(JSON.parse(body) as AlertMessage);
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/alerts?secret=s3cr3t`,
    get bodies() {
      return state.bodies;
    },
    get hits() {
      return state.hits;
    },
    server,
  };
}

describe.each(DRIVERS)('alerts fire and resolve on an injected clock ($name)', ({ make, drop }) => {
  let store: Store;
  let hook: Awaited<ReturnType<typeof receiver>>;
  const start = new Date();
  let clock = start;
  const at = (ms: number) => new Date(start.getTime() + ms);
  const q = `al_${randomUUID().slice(0, 8)}`;
  const logs = new LogCapture();
  let alerts: AlertService;
  let maintenance: MaintenanceService;

  beforeAll(async () => {
    store = await make();
    hook = await receiver([503]);
    alerts = new AlertService(store, {
      now: () => clock,
      webhookUrl: hook.url,
      webhook: { backoffMs: 1 },
      logger: createLogger({ level: 'info', destination: logs }),
    });
    maintenance = new MaintenanceService(store, { alerts, logger: silentLogger });
  });

  afterAll(async () => {
    await maintenance.stop();
    hook.server.close();
    await drop(store);
  });

  it('fires nothing on a healthy system', async () => {
    const out = await maintenance.evaluateAlerts();
    expect(out?.fired).toEqual([]);
    expect(await store.listAlerts()).toEqual([]);
  });

  it('fires dead_letters above 5, no_live_worker for waiting work, oldest_queued past 30 min; resolves each', async () => {
    // Six dead letters: claimed by a worker and failed for good. (Workers act on the real clock;
    // only the evaluation moves ahead, so the waiting work ages without anyone sleeping.)
    const w = await store.registerWorker({ machineId: 'alert-machine', types: ['mail'], queues: [q] });
    await store.createTasks({
      tasks: Array.from({ length: 6 }, () => ({ type: 'mail', queue: q, maxAttempts: 1 })),
    });
    for (const t of await store.claimTasks({ workerId: w.id, queues: [q], limit: 6 })) {
      await store.failTask({
        taskId: t.id,
        attempt: t.attempt,
        workerId: w.id,
        error: { message: 'smtp down' },
      });
    }
    // Work of a type nobody serves, waiting since `start`.
    const orphan = await store.createTasks({ tasks: [{ type: 'render', queue: q, runAt: start }] });

    clock = at(10_000);
    let out = await maintenance.evaluateAlerts();
    // Too young for no_live_worker (60 s) and oldest_queued (30 min): only the dead letters fire.
    expect(out!.fired.map((a) => a.rule)).toEqual(['dead_letters']);
    const dl = out!.fired[0]!;
    expect(dl.value).toBe(6);
    expect(dl.threshold).toBe(5);
    expect(dl.firedAt.getTime()).toBe(clock.getTime());
    expect(dl.summary).toContain('mail 6');

    clock = at(2 * 60_000);
    out = await maintenance.evaluateAlerts();
    expect(out!.fired.map((a) => [a.rule, a.subject])).toEqual([['no_live_worker', `${q}/render`]]);
    expect(out!.firing.map((a) => a.rule).sort()).toEqual(['dead_letters', 'no_live_worker']);
    // Still firing: fired_at stays, last evaluation moves.
    const again = (await store.listAlerts({ status: 'firing' })).find((a) => a.rule === 'dead_letters')!;
    expect(again.firedAt.getTime()).toBe(at(10_000).getTime());
    expect(again.lastEvaluatedAt.getTime()).toBe(clock.getTime());

    clock = at(31 * 60_000);
    out = await maintenance.evaluateAlerts();
    expect(out!.fired.map((a) => [a.rule, a.subject])).toEqual([['oldest_queued', q]]);

    // A worker for `render` arrives and takes the task; the dead letters are retried away.
    const renderer = await store.registerWorker({ machineId: 'render-machine', types: ['render'] });
    const [claimed] = await store.claimTasks({ workerId: renderer.id, types: ['render'], limit: 1 });
    expect(claimed?.id).toBe(orphan.tasks[0]!.id);
    expect(await store.deleteTasks({ queue: q, status: 'failed' })).toBe(6);
    clock = at(32 * 60_000);
    out = await maintenance.evaluateAlerts();
    expect(out!.resolved.map((a) => a.rule).sort()).toEqual([
      'dead_letters',
      'no_live_worker',
      'oldest_queued',
    ]);
    expect(out!.resolved.every((a) => a.resolvedAt?.getTime() === clock.getTime())).toBe(true);
    expect(out!.firing).toEqual([]);

    const listed = await store.listAlerts();
    expect(listed).toHaveLength(3);
    expect(listed.every((a) => a.status === 'resolved')).toBe(true);
    expect(await store.listAlerts({ status: 'firing' })).toEqual([]);

    // The webhook got every firing and resolution, in order, despite a 503 on the first try.
    await alerts.idle();
    expect(hook.hits).toBe(7);
    const delivered = hook.bodies.map((b) => `${b.status}:${b.alert.rule}`);
    expect(delivered.slice(0, 3)).toEqual([
      'firing:dead_letters',
      'firing:no_live_worker',
      'firing:oldest_queued',
    ]);
    expect(delivered.slice(3).sort()).toEqual([
      'resolved:dead_letters',
      'resolved:no_live_worker',
      'resolved:oldest_queued',
    ]);
    expect(hook.bodies[0]!.text).toMatch(/^\[gaffer\] FIRING \(warning\): 6 dead letters/);

    // Logged: alert_firing / alert_resolved with the rule, and no webhook secret anywhere.
    expect(logs.events('alert_firing').map((l) => l.rule)).toEqual([
      'dead_letters',
      'no_live_worker',
      'oldest_queued',
    ]);
    expect(logs.events('alert_resolved')).toHaveLength(3);
    expect(logs.events('alert_webhook_failed')).toHaveLength(1);
    expect(logs.raw.join('\n')).not.toContain('s3cr3t');
  });

  it('fires again as a new alert once a resolved finding comes back', async () => {
    const w = await store.registerWorker({ machineId: 'alert-machine-2', types: ['mail'], queues: [q] });
    await store.createTasks({
      tasks: Array.from({ length: 6 }, () => ({ type: 'mail', queue: q, maxAttempts: 1 })),
    });
    for (const t of await store.claimTasks({ workerId: w.id, queues: [q], limit: 6 })) {
      await store.failTask({
        taskId: t.id,
        attempt: t.attempt,
        workerId: w.id,
        error: { message: 'smtp down' },
      });
    }
    clock = at(40 * 60_000);
    const out = await maintenance.evaluateAlerts();
    expect(out!.fired.map((a) => a.rule)).toEqual(['dead_letters']);
    const all = await store.listAlerts();
    expect(all[0]!.status).toBe('firing');
    expect(all.filter((a) => a.rule === 'dead_letters')).toHaveLength(2);
  });
});

describe('alert rules (pure)', () => {
  const snap = (over: Partial<MetricsSnapshot> = {}): MetricsSnapshot => ({
    at: new Date(),
    depth: [],
    waiting: [],
    deadLetters: [],
    liveWorkers: [],
    staleWorkers: 0,
    ...over,
  });

  it('takes thresholds from configuration and can turn a rule off', () => {
    const s = snap({
      deadLetters: [{ queue: 'a', type: 't', count: 3 }],
      waiting: [{ queue: 'a', type: 't', count: 1, oldestAgeMs: 5 * 60_000 }],
    });
    expect(evaluateRules(s, resolveRules())).toHaveLength(1); // no_live_worker only
    const tuned = resolveRules({
      deadLetters: { threshold: 2 },
      oldestQueued: { thresholdMs: 60_000 },
      noLiveWorker: { enabled: false },
    });
    expect(
      evaluateRules(s, tuned)
        .map((a) => a.rule)
        .sort(),
    ).toEqual(['dead_letters', 'oldest_queued']);
  });

  it('counts a live worker with no types or queues as serving everything, and honours its queues', () => {
    const waiting = [{ queue: 'a', type: 't', count: 2, oldestAgeMs: 120_000 }];
    const worker = {
      ...{ id: 'w', machineId: 'm', processed: null, failed: null, startedAt: null },
      ...{ eventLoopLagMs: null, suspectedStuck: false },
    };
    const any = snap({ waiting, liveWorkers: [{ ...worker, types: [], queues: [] }] });
    expect(evaluateRules(any, resolveRules())).toEqual([]);
    const otherQueue = snap({ waiting, liveWorkers: [{ ...worker, types: ['t'], queues: ['b'] }] });
    expect(evaluateRules(otherQueue, resolveRules()).map((a) => a.rule)).toEqual(['no_live_worker']);
  });
});

describe('webhook delivery', () => {
  it('retries on 5xx with backoff, gives up on other 4xx, and refuses a malformed URL', async () => {
    const waits: number[] = [];
    const sleep = async (ms: number) => {
      waits.push(ms);
    };
    const flaky = await receiver([500, 502]);
    const n = new WebhookNotifier({ url: flaky.url, backoffMs: 100, sleep });
    expect(await n.send({ hello: 1 })).toBe(true);
    expect(flaky.hits).toBe(3);
    expect(waits).toEqual([100, 200]);
    flaky.server.close();

    const refusing = await receiver([400]);
    const r = new WebhookNotifier({ url: refusing.url, backoffMs: 1, sleep });
    expect(await r.send({ hello: 2 })).toBe(false);
    expect(refusing.hits).toBe(1);
    refusing.server.close();

    expect(() => new WebhookNotifier({ url: 'not a url' })).toThrow(/not a valid absolute URL/);
  });
});

describe.each(DRIVERS)('no live worker stays quiet for a paused queue or type ($name)', ({ make, drop }) => {
  let store: Store;
  beforeAll(async () => {
    store = await make();
  });
  afterAll(async () => {
    await drop(store);
  });

  it('fires for unserved work, not once its queue or its type is paused, and again after resume', async () => {
    const queue = `pz_${randomUUID().slice(0, 8)}`;
    const type = `pz_${randomUUID().slice(0, 8)}`;
    await store.createTasks({ tasks: [{ type, queue }] });
    const now = new Date(Date.now() + 10 * 60_000);
    const rules = resolveRules();
    const firing = async () =>
      evaluateRules(await store.metricsSnapshot({ now }), rules).filter(
        (a) => a.rule === 'no_live_worker' && a.subject === `${queue}/${type}`,
      );
    expect(await firing()).toHaveLength(1);
    await store.pauseFlow({ scope: 'queue', name: queue });
    expect((await store.metricsSnapshot({ now })).paused).toContainEqual({ scope: 'queue', name: queue });
    expect(await firing()).toHaveLength(0);
    await store.resumeFlow({ scope: 'queue', name: queue });
    await store.pauseFlow({ scope: 'type', name: type });
    expect(await firing()).toHaveLength(0);
    await store.resumeFlow({ scope: 'type', name: type });
    expect(await firing()).toHaveLength(1);
  });
});
