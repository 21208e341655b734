import { describe, expect, it } from 'vitest';
import type { FlowTarget, SetLimitsParams } from '../flow-types.js';
import type { Store } from '../store.js';
import type { ClaimedTask } from '../types.js';
import { type ConformanceContext, expectGafferError, type Fixture, fixture, uid } from './helpers.js';

/**
 * Flow control's controls are global to a store, so every test removes what it set (a store with
 * no control keeps claims on their fast path for the other tests).
 */
async function withControls(store: Store, fn: () => Promise<void>, ...targets: FlowTarget[]): Promise<void> {
  try {
    await fn();
  } finally {
    for (const t of targets) {
      await store.clearLimits(t);
      await store.resumeFlow(t);
    }
  }
}

async function limit(store: Store, p: SetLimitsParams): Promise<void> {
  await store.setLimits(p);
}

/** Running tasks of the fixture's queue per concurrency key, read from the database. */
async function runningByKey(fx: Fixture): Promise<Map<string, number>> {
  const page = await fx.store.listTasks({ queue: fx.queue, status: 'running', limit: 1000 });
  const out = new Map<string, number>();
  for (const t of page.items) out.set(t.concurrencyKey ?? '', (out.get(t.concurrencyKey ?? '') ?? 0) + 1);
  return out;
}

export function flowTests(ctx: ConformanceContext): void {
  describe('flow control: pause and resume', () => {
    it('claims nothing of a paused queue, lets running tasks finish, and claims again after resume', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const q = { scope: 'queue', name: fx.queue } as const;
      await withControls(
        store,
        async () => {
          const { task: run } = await fx.running();
          await fx.createMany(3);
          const paused = await store.pauseFlow({ ...q, by: 'ops' });
          expect(paused).toMatchObject({ paused: true, pausedBy: 'ops', running: 1, waiting: 3 });
          const w = await fx.worker();
          expect(await fx.claim(w.id, { limit: 10 })).toHaveLength(0);
          expect((await fx.complete(run)).status).toBe('completed');
          expect(await fx.claim(w.id, { limit: 10 })).toHaveLength(0);
          const resumed = await store.resumeFlow(q);
          expect(resumed).toBeNull();
          expect(await fx.claim(w.id, { limit: 10 })).toHaveLength(3);
        },
        q,
      );
    });

    it('a paused type holds in every queue, and holds a claim of a session assignment too', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const t = { scope: 'type', name: fx.type } as const;
      await withControls(
        store,
        async () => {
          const session = uid('s');
          await store.createSession({ id: session, queue: fx.queue, tasks: [{ type: fx.type }] });
          await fx.create();
          await store.pauseFlow(t);
          const w = await fx.worker();
          expect(await fx.claim(w.id, { limit: 10, types: [fx.type] })).toHaveLength(0);
          await expectGafferError(store.claimSessionTask({ workerId: w.id, sessionId: session, index: 0 }), [
            'conflict',
          ]);
          const [control] = await store.listFlowControls(t);
          expect(control).toMatchObject({ scope: 'type', name: fx.type, paused: true, waiting: 2 });
          await store.resumeFlow(t);
          expect((await store.claimSessionTask({ workerId: w.id, sessionId: session, index: 0 })).type).toBe(
            fx.type,
          );
        },
        t,
      );
    });
  });

  describe('flow control: concurrency limits', () => {
    it('a queue limit holds across claims, and every end of a running attempt frees its slot', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const q = { scope: 'queue', name: fx.queue } as const;
      await withControls(
        store,
        async () => {
          await fx.createMany(12, { maxAttempts: 5 });
          await limit(store, { ...q, concurrency: 3 });
          const w = await fx.worker();
          const first = await fx.claim(w.id, { limit: 10 });
          expect(first).toHaveLength(3);
          expect(await fx.claim(w.id, { limit: 10 })).toHaveLength(0);
          const held = (c: ClaimedTask) => ({ taskId: c.id, attempt: c.attempt, workerId: w.id });
          // Completion.
          await fx.complete(first[0]!);
          const a = await fx.claim(w.id, { limit: 10 });
          expect(a).toHaveLength(1);
          // Failure with attempts left (the task goes to retrying).
          expect((await fx.fail(first[1]!, 'flaky', { retryable: true })).status).toBe('retrying');
          const b = await fx.claim(w.id, { limit: 10 });
          expect(b).toHaveLength(1);
          // Hand-back.
          await store.handBackTasks([held(first[2]!)]);
          const c = await fx.claim(w.id, { limit: 10 });
          expect(c).toHaveLength(1);
          // Cancel while running: ends when the worker reports it.
          await store.cancelTask({ taskId: a[0]!.id });
          await store.failTask({ ...held(a[0]!), error: { message: 'cancelled', kind: 'cancelled' } });
          expect(await fx.claim(w.id, { limit: 10 })).toHaveLength(1);
          // A lapsed lease (rescue).
          const [control] = await store.listFlowControls(q);
          expect(control).toMatchObject({ concurrency: 3, running: 3 });
          expect(control!.waiting).toBeGreaterThan(0);
          await store.rescueLeases({ now: new Date(Date.now() + 10 * 60_000) });
          const again = await fx.worker();
          expect(await fx.claim(again.id, { limit: 10 })).toHaveLength(3);
        },
        q,
      );
    });

    it('a type limit counts its tasks in every queue', async () => {
      const store = ctx.store();
      const a = fixture(store);
      const otherQueue = uid('q');
      const t = { scope: 'type', name: a.type } as const;
      await withControls(
        store,
        async () => {
          await a.createMany(3);
          await store.createTasks({ tasks: [0, 1, 2].map(() => ({ type: a.type, queue: otherQueue })) });
          await limit(store, { ...t, concurrency: 4 });
          const w = await a.worker({ queues: [a.queue, otherQueue] });
          const got = await store.claimTasks({ workerId: w.id, types: [a.type], limit: 10 });
          expect(got).toHaveLength(4);
          expect(await store.claimTasks({ workerId: w.id, types: [a.type], limit: 10 })).toHaveLength(0);
          expect((await store.listFlowControls(t))[0]).toMatchObject({ running: 4, waiting: 2 });
        },
        t,
      );
    });
  });

  describe('flow control: concurrency keys', () => {
    it('a key at its limit waits without holding back other keys, and tasks without a key run freely', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const q = { scope: 'queue', name: fx.queue } as const;
      await withControls(
        store,
        async () => {
          await fx.createMany(5, { concurrencyKey: 'big' });
          await fx.create({ concurrencyKey: 'small' });
          await fx.create({});
          await limit(store, { ...q, keyConcurrency: 1 });
          const w = await fx.worker();
          const got = await fx.claim(w.id, { limit: 10 });
          expect(got.map((t) => t.concurrencyKey).sort()).toEqual(['big', null, 'small'].sort());
          expect(await fx.claim(w.id, { limit: 10 })).toHaveLength(0);
          expect((await store.listFlowControls(q))[0]).toMatchObject({ keysAtLimit: 2, running: 3 });
          const big = got.find((t) => t.concurrencyKey === 'big')!;
          await fx.complete(big);
          const next = await fx.claim(w.id, { limit: 10 });
          expect(next.map((t) => t.concurrencyKey)).toEqual(['big']);
        },
        q,
      );
    });

    it('keys of equal priority take turns: a key with 60 tasks does not delay one with 3', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const t = { scope: 'type', name: fx.type } as const;
      await withControls(
        store,
        async () => {
          await fx.createMany(60, { concurrencyKey: 'tenant-a' });
          await fx.createMany(3, { concurrencyKey: 'tenant-b' });
          await limit(store, { ...t, keyConcurrency: 1000 });
          const w = await fx.worker();
          const order: string[] = [];
          for (let i = 0; i < 4; i++) {
            for (const c of await fx.claim(w.id, { limit: 2 })) order.push(c.concurrencyKey!);
          }
          expect(order.slice(0, 6).filter((k) => k === 'tenant-b')).toHaveLength(3);
          // A higher priority still comes first.
          await fx.create({ concurrencyKey: 'tenant-a', priority: 5 });
          expect((await fx.claim(w.id, { limit: 1 }))[0]!.priority).toBe(5);
        },
        t,
      );
    });

    it('every end of a keyed attempt frees its key: completion, failure, hand-back, rate-limited, lapse, cancel, delete', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const q = { scope: 'queue', name: fx.queue } as const;
      await withControls(
        store,
        async () => {
          await fx.createMany(9, { concurrencyKey: 'k', maxAttempts: 10 });
          await limit(store, { ...q, keyConcurrency: 1 });
          const w = await fx.worker();
          const one = async (): Promise<ClaimedTask> => {
            const got = await fx.claim(w.id, { limit: 5 });
            expect(got).toHaveLength(1);
            expect(await fx.claim(w.id, { limit: 5 })).toHaveLength(0);
            return got[0]!;
          };
          const ref = (c: ClaimedTask) => ({ taskId: c.id, attempt: c.attempt, workerId: w.id });
          await fx.complete(await one());
          await fx.fail(await one(), 'flaky', { retryable: true });
          await store.handBackTasks([ref(await one())]);
          await store.rateLimitTask({ ...ref(await one()), retryAfterMs: 0 });
          const cancelled = await one();
          await store.cancelTask({ taskId: cancelled.id });
          await store.failTask({ ...ref(cancelled), error: { message: 'stop', kind: 'cancelled' } });
          await store.deleteTask((await one()).id);
          await one();
          await store.rescueLeases({ now: new Date(Date.now() + 10 * 60_000) });
          const fresh = await fx.worker();
          expect(await fx.claim(fresh.id, { limit: 5 })).toHaveLength(1);
        },
        q,
      );
    });

    it('many workers racing for keys at their limit never run more than the limit (checked in the database)', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const q = { scope: 'queue', name: fx.queue } as const;
      const keys = ['k0', 'k1', 'k2'];
      const perKey = 2;
      await withControls(
        store,
        async () => {
          await store.createTasks({
            tasks: Array.from({ length: 90 }, (_, i) => ({
              type: fx.type,
              queue: fx.queue,
              concurrencyKey: keys[i % keys.length]!,
            })),
          });
          await limit(store, { ...q, keyConcurrency: perKey, concurrency: 5 });
          const workers = await Promise.all(Array.from({ length: 12 }, () => fx.worker()));
          let maxPerKey = 0;
          let maxTotal = 0;
          let done = 0;
          const check = async () => {
            const counts = await runningByKey(fx);
            let total = 0;
            for (const n of counts.values()) {
              maxPerKey = Math.max(maxPerKey, n);
              total += n;
            }
            maxTotal = Math.max(maxTotal, total);
          };
          const run = async (workerId: string) => {
            for (let round = 0; round < 60 && done < 90; round++) {
              const got = await fx.claim(workerId, { limit: 3 });
              await check();
              await Promise.all(
                got.map(async (c) => {
                  await fx.complete({ id: c.id, attempt: c.attempt, workerId });
                  done++;
                }),
              );
            }
          };
          await Promise.all(workers.map((w) => run(w.id)));
          expect(maxPerKey).toBeGreaterThan(0);
          expect(maxPerKey).toBeLessThanOrEqual(perKey);
          expect(maxTotal).toBeLessThanOrEqual(5);
          expect(done).toBe(90);
        },
        q,
      );
    });
  });

  describe('flow control: rate limits', () => {
    it('at most N starts per interval for a queue; the wait is visible; no attempt is spent', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const q = { scope: 'queue', name: fx.queue } as const;
      await withControls(
        store,
        async () => {
          await fx.createMany(12);
          await limit(store, { ...q, rate: { limit: 5, intervalMs: 60_000 } });
          const w = await fx.worker();
          const t0 = new Date();
          expect(await fx.claim(w.id, { limit: 10, now: t0 })).toHaveLength(5);
          expect(await fx.claim(w.id, { limit: 10, now: new Date(t0.getTime() + 30_000) })).toHaveLength(0);
          const [control] = await store.listFlowControls(q);
          expect(control!.rateLimitedUntil?.getTime()).toBe(t0.getTime() + 60_000);
          expect(control!.waiting).toBe(7);
          const waiting = await store.listTasks({ queue: fx.queue, status: 'queued', limit: 20 });
          expect(waiting.items.every((t) => t.attempt === 0)).toBe(true);
          const w2 = await fx.worker();
          expect(await fx.claim(w2.id, { limit: 10, now: new Date(t0.getTime() + 60_001) })).toHaveLength(5);
        },
        q,
      );
    });

    it('a per-key rate limit lets each key start its own N per interval', async () => {
      const store = ctx.store();
      const fx = fixture(store);
      const t = { scope: 'type', name: fx.type } as const;
      await withControls(
        store,
        async () => {
          await fx.createMany(5, { concurrencyKey: 'openai' });
          await fx.createMany(5, { concurrencyKey: 'anthropic' });
          await limit(store, { ...t, keyRate: { limit: 2, intervalMs: 60_000 } });
          const w = await fx.worker();
          const t0 = new Date();
          const got = await fx.claim(w.id, { limit: 10, now: t0 });
          expect(got.map((c) => c.concurrencyKey).sort()).toEqual([
            'anthropic',
            'anthropic',
            'openai',
            'openai',
          ]);
          expect(await fx.claim(w.id, { limit: 10, now: new Date(t0.getTime() + 1000) })).toHaveLength(0);
          expect((await store.listFlowControls(t))[0]).toMatchObject({ keysRateLimited: 2 });
        },
        t,
      );
    });
  });

  describe('flow control: configuration', () => {
    it('refuses invalid limits naming every invalid field', async () => {
      const store = ctx.store();
      const err = await expectGafferError(
        store.setLimits({
          scope: 'queue',
          name: 'bad name!',
          concurrency: 0,
          rate: { limit: 5, intervalMs: -1 },
        }),
        'validation',
      );
      const fields = ((err.details?.errors ?? []) as Array<{ field: string }>).map((f) => f.field);
      expect(fields).toEqual(['name', 'concurrency', 'rate.intervalMs']);
    });

    it('sets, reads and clears limits; a cleared control with no pause is gone', async () => {
      const store = ctx.store();
      const name = uid('q');
      const q = { scope: 'queue', name } as const;
      const set = await store.setLimits({ ...q, concurrency: 7, keyRate: { limit: 60, intervalMs: 60_000 } });
      expect(set).toMatchObject({ concurrency: 7, keyConcurrency: null, rate: null, keyRate: { limit: 60 } });
      await store.pauseFlow(q);
      expect(await store.clearLimits(q)).toBe(true);
      expect((await store.listFlowControls(q))[0]).toMatchObject({ paused: true, concurrency: null });
      expect(await store.resumeFlow(q)).toBeNull();
      expect(await store.listFlowControls(q)).toEqual([]);
      expect(await store.clearLimits(q)).toBe(false);
    });
  });
}
