import { describe, expect, it } from 'vitest';
import { type ConformanceContext, expectGafferError, expectInOrder, fixture, later, uid } from './helpers.js';

/** R4, R5.3: registration, heartbeats, stale detection, worker state and events, deletion. */
export function workerTests(ctx: ConformanceContext): void {
  describe('workers', () => {
    it('registers with everything it declares and gets a fresh id every time', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const machineId = uid('m');
      const params = {
        machineId,
        hostname: 'host-1',
        pid: 4242,
        version: '1.2.3',
        types: [fx.type],
        queues: [fx.queue],
        concurrency: 4,
        labels: { provider: 'openai', region: 'eu' },
      };
      const a = await store.registerWorker(params);
      const b = await store.registerWorker(params);
      expect(a.id).not.toBe(b.id);
      expect(a).toMatchObject({ ...params, name: null, stale: false, staleReason: null, staleAt: null });
      expect(a.registeredAt).toBeInstanceOf(Date);
      expect(a.lastHeartbeatAt).toBeInstanceOf(Date);
      expect(await store.getWorker(a.id)).toMatchObject({ id: a.id, ...params });
      const listed = (await store.listWorkers({ machineId, includeStale: true })).map((w) => w.id).sort();
      expect(listed).toEqual([a.id, b.id].sort());
    });

    it('registering the same machine and name again makes the earlier worker stale at once, and its leases lapse', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const machineId = uid('m');
      const first = await fx.worker({ machineId, name: 'slot-1' });
      const sibling = await fx.worker({ machineId, name: 'slot-2' });
      await fx.create();
      const held = await fx.claimOne(first.id, { leaseMs: 600_000 });

      const second = await fx.worker({ machineId, name: 'slot-1' });
      expect(second.id).not.toBe(first.id);
      expect(second.stale).toBe(false);
      const old = await store.getWorker(first.id);
      expect(old.stale).toBe(true);
      expect(old.staleReason).toEqual(expect.any(String));
      expect(old.staleAt).toBeInstanceOf(Date);
      expect((await store.getWorker(sibling.id)).stale).toBe(false);

      await expectGafferError(fx.claim(first.id), 'worker_not_live');
      const hb = await store.heartbeat({ workerId: first.id });
      expect(hb.live).toBe(false);
      expect(hb.extended).toBe(0);

      // Its lease was granted for ten minutes, yet it lapses with the worker.
      await store.rescueLeases();
      const lost = await store.getTask(held.id);
      expect(lost.status).toBe('retrying');
      expect((await store.getTaskEvents(held.id)).map((e) => e.kind)).toContain('lease_lost');
      const again = await fx.claimOne(second.id, { now: later(10_000), expectId: held.id });
      expect(again.attempt).toBe(2);
    });

    it('markStaleWorkers marks workers silent for longer than staleAfterMs (default 60 s)', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const silent = await fx.worker();
      const chatty = await fx.worker();

      expect(await store.markStaleWorkers({ now: later(30_000) })).not.toContain(silent.id);
      expect((await store.getWorker(silent.id)).stale).toBe(false);

      expect((await store.heartbeat({ workerId: chatty.id, now: later(50_000) })).live).toBe(true);
      const marked = await store.markStaleWorkers({ now: later(61_000) });
      expect(marked).toContain(silent.id);
      expect(marked).not.toContain(chatty.id);

      const stale = await store.getWorker(silent.id);
      expect(stale).toMatchObject({ stale: true });
      expect(stale.staleReason).toEqual(expect.any(String));
      expect(stale.staleAt).toBeInstanceOf(Date);
      expect((await store.getWorker(chatty.id)).stale).toBe(false);
      expect(await store.markStaleWorkers({ now: later(62_000) })).not.toContain(silent.id);

      const live = (await store.listWorkers()).map((w) => w.id);
      expect(live).not.toContain(silent.id);
      expect(live).toContain(chatty.id);
      const all = (await store.listWorkers({ includeStale: true })).map((w) => w.id);
      expect(all).toEqual(expect.arrayContaining([silent.id, chatty.id]));

      await expectGafferError(fx.claim(silent.id), 'worker_not_live');
      expect((await store.heartbeat({ workerId: silent.id })).live).toBe(false);
      expect((await store.getWorker(silent.id)).stale).toBe(true);
    });

    it('a worker marked stale loses its leases and its tasks go back to the queue', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const worker = await fx.worker();
      await fx.create();
      const held = await fx.claimOne(worker.id, { leaseMs: 600_000 });
      expect(await store.markStaleWorkers({ now: later(61_000) })).toContain(worker.id);
      await store.rescueLeases({ now: later(62_000) });
      const back = await store.getTask(held.id);
      expect(back.status).toBe('retrying');
      expect(back.error?.kind).toBe('lost');
      // A worker alive at that (simulated) time picks it up once its backoff has passed.
      const other = await fx.worker();
      for (const at of [40_000, 65_000]) {
        expect((await store.heartbeat({ workerId: other.id, now: later(at) })).live).toBe(true);
      }
      await fx.claimOne(other.id, { now: later(70_000), expectId: held.id });
    });

    it('heartbeats keep state and stats; setWorkerState and worker events are kept', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const worker = await fx.worker();
      const hb = await store.heartbeat({
        workerId: worker.id,
        state: { screen: 'rendering', frame: 12 },
        stats: { processed: 5, failed: 1 },
        now: later(5_000),
      });
      expect(hb).toMatchObject({ live: true, cancelled: [], extended: 0 });
      const afterHb = await store.getWorker(worker.id);
      expect(afterHb.state).toEqual({ screen: 'rendering', frame: 12 });
      expect(afterHb.stats).toMatchObject({ processed: 5, failed: 1 });
      expect(afterHb.lastHeartbeatAt.getTime()).toBeGreaterThan(worker.lastHeartbeatAt.getTime());

      await store.setWorkerState({ workerId: worker.id, state: { screen: 'idle' } });
      expect((await store.getWorker(worker.id)).state).toEqual({ screen: 'idle' });

      await store.recordWorkerEvent({ workerId: worker.id, kind: 'gui_state', data: { step: 1 } });
      await store.recordWorkerEvent({ workerId: worker.id, kind: 'gui_state', data: { step: 2 } });
      const events = await store.getWorkerEvents(worker.id);
      const mine = events.filter((e) => e.kind === 'gui_state');
      expect(mine.map((e) => e.data)).toEqual(expect.arrayContaining([{ step: 1 }, { step: 2 }]));
      expect(events.every((e) => e.workerId === worker.id)).toBe(true);
    });

    it('a deregistered worker is no longer live and cannot claim', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const worker = await fx.worker();
      await fx.create();
      await store.deregisterWorker({ workerId: worker.id });
      const gone = await store.getWorker(worker.id);
      expect(gone.deregisteredAt).toBeInstanceOf(Date);
      expect((await store.listWorkers()).map((w) => w.id)).not.toContain(worker.id);
      await expectGafferError(fx.claim(worker.id), 'worker_not_live');
    });

    it('deleteWorker removes the worker; the tasks it ran keep their history', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task, worker } = await fx.running();
      await fx.complete(task);
      await store.recordWorkerEvent({ workerId: worker.id, kind: 'note' });

      await store.deleteWorker(worker.id);
      await expectGafferError(store.getWorker(worker.id), 'not_found');
      expect((await store.listWorkers({ includeStale: true })).map((w) => w.id)).not.toContain(worker.id);
      expect(await store.getWorkerEvents(worker.id).catch(() => [])).toEqual([]);

      const kept = await store.getTask(task.id);
      expect(kept.status).toBe('completed');
      const events = await store.getTaskEvents(task.id);
      expectInOrder(
        events.map((e) => e.kind),
        ['created', 'claimed', 'completed'],
      );
      expect(events.find((e) => e.kind === 'claimed')!.workerId).toBe(worker.id);
      await expectGafferError(store.deleteWorker(uid('missing')), 'not_found');
    });

    it('deleting a live worker holding a task fences it off and the task returns to the queue', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const { task, worker } = await fx.running({}, { leaseMs: 600_000 });
      await store.deleteWorker(worker.id);
      await store.rescueLeases();
      expect((await store.getTask(task.id)).status).toBe('retrying');
      const late = await store.completeTasks([
        { taskId: task.id, attempt: 1, workerId: worker.id, result: 1 },
      ]);
      expect(late.completed).toEqual([]);
    });
  });
}
