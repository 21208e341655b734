import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkWaiters } from '../../src/engine/work-waiters.js';
import type { Store } from '../../src/store/store.js';
import { DirectTransport } from '../../src/worker/direct-transport.js';
import { dropPgliteStore, makePgliteStore } from '../helpers/stores.js';

let store: Store;
const claims = new Map<string, number>();

beforeAll(async () => {
  store = await makePgliteStore();
  const claim = store.claimTasks.bind(store);
  store.claimTasks = (p) => {
    claims.set(p.workerId, (claims.get(p.workerId) ?? 0) + 1);
    return claim(p);
  };
});

afterAll(async () => {
  await dropPgliteStore(store);
});

const sum = (ids: string[]) => ids.reduce((n, id) => n + (claims.get(id) ?? 0), 0);

/** `count` in-process workers waiting for `type`, each through its own DirectTransport. */
async function waiting(type: string, count: number, stop: AbortSignal) {
  const ids: string[] = [];
  const answers: Array<Promise<Array<{ id: string }>>> = [];
  for (let i = 0; i < count; i++) {
    const t = new DirectTransport(store, { pollIntervalMs: 60_000 });
    const { workerId } = await t.register({
      machineId: `m-${type}-${i}`,
      types: [type],
      concurrency: 1,
      labels: {},
    });
    ids.push(workerId);
    answers.push(t.claim({ workerId, types: [type], limit: 1, waitMs: 20_000, signal: stop }));
  }
  return { ids, answers };
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
}

describe('DirectTransport wake-ups', () => {
  it('a commit of one task wakes one of many waiting claims, and none of another type', async () => {
    const stop = new AbortController();
    const mine = await waiting('dw', 30, stop.signal);
    const theirs = await waiting('dw-other', 10, stop.signal);
    try {
      await until(
        () => WorkWaiters.forStore(store).size >= 40 && sum(mine.ids) === 30 && sum(theirs.ids) === 10,
      );
      const { tasks } = await store.createTasks({ tasks: [{ type: 'dw' }] });
      const got = await Promise.race(mine.answers);
      expect(got.map((t) => t.id)).toEqual([tasks[0]!.id]);
      await new Promise((r) => setTimeout(r, 200));
      expect(sum(mine.ids)).toBe(31);
      expect(sum(theirs.ids)).toBe(10);
    } finally {
      stop.abort();
      await Promise.all([...mine.answers, ...theirs.answers]);
    }
  });
});

describe('DirectTransport wake-ups when a limit opens (fallback poll a minute)', () => {
  async function worker(type: string, queue: string) {
    const t = new DirectTransport(store, { pollIntervalMs: 60_000 });
    const { workerId } = await t.register({
      machineId: `m-${type}`,
      types: [type],
      queues: [queue],
      concurrency: 5,
      labels: {},
    });
    return { t, workerId };
  }

  it('a claim held back by a concurrency limit takes the next task as soon as a running one completes', async () => {
    const [type, queue] = ['dw-limit', 'q-dw-limit'];
    await store.setLimits({ scope: 'queue', name: queue, concurrency: 1 });
    const stop = new AbortController();
    try {
      const { tasks } = await store.createTasks({
        tasks: [
          { type, queue },
          { type, queue },
        ],
      });
      const { t, workerId } = await worker(type, queue);
      const [first] = await t.claim({
        workerId,
        types: [type],
        queues: [queue],
        limit: 5,
        waitMs: 0,
        signal: stop.signal,
      });
      expect(first?.id).toBe(tasks[0]!.id);
      const next = t.claim({
        workerId,
        types: [type],
        queues: [queue],
        limit: 5,
        waitMs: 20_000,
        signal: stop.signal,
      });
      await new Promise((r) => setTimeout(r, 200));
      const t0 = Date.now();
      await store.completeTasks([{ taskId: first!.id, attempt: first!.attempt, workerId }]);
      expect((await next).map((x) => x.id)).toEqual([tasks[1]!.id]);
      expect(Date.now() - t0).toBeLessThan(5_000);
    } finally {
      stop.abort();
      await store.clearLimits({ scope: 'queue', name: queue });
    }
  });

  it('a claim held back by a full rate window takes the next tasks when the window opens', async () => {
    const [type, queue] = ['dw-rate', 'q-dw-rate'];
    await store.setLimits({ scope: 'queue', name: queue, rate: { limit: 2, intervalMs: 1_000 } });
    const stop = new AbortController();
    try {
      await store.createTasks({ tasks: [1, 2, 3, 4].map(() => ({ type, queue })) });
      const { t, workerId } = await worker(type, queue);
      const c = { workerId, types: [type], queues: [queue], limit: 5, signal: stop.signal };
      const t0 = Date.now();
      expect(await t.claim({ ...c, waitMs: 0 })).toHaveLength(2);
      expect(await t.claim({ ...c, waitMs: 20_000 })).toHaveLength(2);
      // Not before the window opens, and long before the minute's poll.
      const waited = Date.now() - t0;
      expect(waited).toBeGreaterThanOrEqual(990);
      expect(waited).toBeLessThan(10_000);
    } finally {
      stop.abort();
      await store.clearLimits({ scope: 'queue', name: queue });
    }
  });
});
