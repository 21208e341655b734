import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GafferClient } from '../src/client/client.js';
import { GafferError } from '../src/core/errors.js';
import type { Store } from '../src/store/store.js';
import type { CreateTasksParams } from '../src/store/types.js';
import { dropPgliteStore, makePgliteStore } from './helpers/stores.js';

let store: Store;
const calls: CreateTasksParams[] = [];

beforeAll(async () => {
  store = await makePgliteStore();
  const create = store.createTasks.bind(store);
  store.createTasks = (p) => {
    calls.push(p);
    return create(p);
  };
});

afterAll(async () => {
  await dropPgliteStore(store);
});

describe('group commit of creates (GafferClient over a store)', () => {
  it('concurrent enqueues share statements, and each caller gets its own task', async () => {
    const client = new GafferClient(store);
    calls.length = 0;
    const made = await Promise.all(
      Array.from({ length: 30 }, (_, i) => client.enqueue('gc', { i }, { priority: i })),
    );
    expect(made.map((t) => t.payload)).toEqual(Array.from({ length: 30 }, (_, i) => ({ i })));
    expect(made.map((t) => t.priority)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(new Set(made.map((t) => t.id)).size).toBe(30);
    // The first goes out alone at once; the rest wait for it and go out together.
    expect(calls.length).toBeLessThanOrEqual(3);
    for (const t of made) expect((await store.getTask(t.id)).status).toBe('queued');
    // A lone create is a statement of its own, sent at once.
    calls.length = 0;
    await client.enqueue('gc', { lone: true });
    expect(calls).toHaveLength(1);
  });

  it('a bad create is refused alone, with the field a lone create names; the others are created', async () => {
    const client = new GafferClient(store);
    const results = await Promise.allSettled([
      client.enqueue('gc', { n: 1 }),
      client.enqueue('not a name!', { n: 2 }),
      client.enqueue('gc', { n: 3 }),
      client.enqueueMany([
        { type: 'gc', payload: { n: 4 } },
        { type: 'gc', priority: 1.5 },
      ]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected']);
    const bad = (results[1] as PromiseRejectedResult).reason as GafferError;
    expect(bad).toBeInstanceOf(GafferError);
    expect(bad.code).toBe('validation');
    expect(JSON.stringify(bad.details)).toContain('"type"');
    const badMany = (results[3] as PromiseRejectedResult).reason as GafferError;
    expect(JSON.stringify(badMany.details)).toContain('tasks[1].priority');
    // All or nothing per call: the valid first task of the refused batch was not created.
    const all = await store.listTasks({ type: 'gc', limit: 1000 });
    expect(all.items.filter((t) => (t.payload as { n?: number })?.n === 4)).toEqual([]);
  });

  it('the same id from two concurrent callers: one creates it, the other finds it', async () => {
    const client = new GafferClient(store);
    const [a, b, c] = await Promise.all([
      client.enqueue('gc', { first: true }),
      client.enqueueMany([{ id: 'gc-dup', type: 'gc', payload: { who: 'a' } }]),
      client.enqueueMany([{ id: 'gc-dup', type: 'gc', payload: { who: 'b' } }]),
    ]);
    expect(a.status).toBe('queued');
    expect([b.outcomes[0], c.outcomes[0]]).toEqual(['created', 'existing']);
    expect(c.tasks[0]!.id).toBe('gc-dup');
    expect(c.tasks[0]!.payload).toEqual({ who: 'a' });
  });
});
