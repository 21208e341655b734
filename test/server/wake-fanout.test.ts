import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkWaiters } from '../../src/engine/work-waiters.js';
import type { GafferServer } from '../../src/server/app.js';
import type { SqlStore } from '../../src/store/index.js';
import { client, dropSchema, openTestStore, testServer, waitFor } from './helpers.js';

/** Counts the claims a store runs, by worker. */
function countClaims(store: SqlStore): Map<string, number> {
  const counts = new Map<string, number>();
  const claim = store.claimTasks.bind(store);
  store.claimTasks = (p) => {
    counts.set(p.workerId, (counts.get(p.workerId) ?? 0) + 1);
    return claim(p);
  };
  return counts;
}

const total = (counts: Map<string, number>, ids: readonly string[]) =>
  ids.reduce((n, id) => n + (counts.get(id) ?? 0), 0);

const W = '/api/v1/worker';

// Two servers over one database (each its own store and LISTEN connection), fallback polls of a
// minute: every claim counted after the first round is one a wake-up caused.
let stores: SqlStore[] = [];
let servers: GafferServer[] = [];
let claims: Array<Map<string, number>> = [];

beforeAll(async () => {
  const first = await openTestStore();
  const second = await openTestStore({ schema: first.options.schema });
  stores = [first, second];
  claims = stores.map(countClaims);
  servers = await Promise.all(stores.map((s) => testServer(s, { claimPollIntervalMs: 60_000 })));
});

afterAll(async () => {
  for (const s of servers) await s.close();
  for (const s of stores) await s.close();
  if (stores[0]) await dropSchema(stores[0].options.schema);
});

let n = 0;

/** `count` idle long-polls of `type` on server `at`, each registered as its own worker. */
async function idlePolls(at: number, type: string, queue: string, count: number) {
  const api = client(servers[at]!.app);
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = await api('POST', `${W}/register`, { machineId: `m${++n}`, types: [type], queues: [queue] });
    ids.push(r.body.workerId);
  }
  const answers = ids.map((id) => api('POST', `${W}/${id}/claim`, { limit: 1, waitMs: 15_000 }));
  // Each poll has run its first (empty) claim and waits.
  await waitFor(() => total(claims[at]!, ids) >= count || null, 'every poll to claim once');
  return { ids, answers };
}

describe('wake-ups wake as many waiting claims as there is work', () => {
  it('a commit of one task wakes one of many long-polls, none of another type, one per server', async () => {
    const queue = `fan${++n}`;
    const here = await idlePolls(0, 'fan', queue, 40);
    const there = await idlePolls(1, 'fan', queue, 10);
    const others = await idlePolls(0, 'other', queue, 10);
    await waitFor(() => WorkWaiters.forStore(stores[0]!).size >= 50 || null, 'the polls to wait');
    const before = [total(claims[0]!, here.ids), total(claims[1]!, there.ids), total(claims[0]!, others.ids)];
    expect(before).toEqual([40, 10, 10]);

    const created = await client(servers[0]!.app)('POST', '/api/v1/tasks', { type: 'fan', queue });
    expect(created.status).toBe(201);
    const winner = await Promise.race([...here.answers, ...there.answers].map((a) => a.then((r) => r.body)));
    expect(winner.tasks.map((t: { id: string }) => t.id)).toEqual([created.body.task.id]);
    // The other server hears it through LISTEN/NOTIFY: give the relay time to arrive.
    await new Promise((r) => setTimeout(r, 500));
    const after = [total(claims[0]!, here.ids), total(claims[1]!, there.ids), total(claims[0]!, others.ids)];
    // One claim woken on each server at most (the one that took it, and one that came too late).
    expect(after[0]! + after[1]! - 50).toBeGreaterThanOrEqual(1);
    expect(after[0]! - 40).toBeLessThanOrEqual(1);
    expect(after[1]! - 10).toBeLessThanOrEqual(1);
    expect(after[2]).toBe(10);
  });

  it('a commit of three tasks wakes three long-polls of limit 1, and they take one each', async () => {
    const queue = `fan${++n}`;
    const polls = await idlePolls(0, 'fan3', queue, 30);
    await waitFor(() => WorkWaiters.forStore(stores[0]!).size >= 30 || null, 'the polls to wait');
    const created = await client(servers[0]!.app)('POST', '/api/v1/tasks/bulk', {
      tasks: [1, 2, 3].map(() => ({ type: 'fan3', queue })),
    });
    expect(created.status).toBe(201);
    const taken = new Set<string>();
    await waitFor(async () => {
      for (const a of polls.answers) {
        const r = await Promise.race([a, new Promise<null>((res) => setTimeout(() => res(null), 5))]);
        for (const t of r?.body.tasks ?? []) taken.add(t.id);
      }
      return taken.size === 3 || null;
    }, 'three polls to take the three tasks');
    await new Promise((r) => setTimeout(r, 300));
    // Each woken poll ran one more claim; the other 27 ran none.
    expect(total(claims[0]!, polls.ids)).toBe(33);
  });
});

describe('waiters of the same types and queues share one fallback poll', () => {
  let store: SqlStore;
  let server: GafferServer;
  let counts: Map<string, number>;
  beforeAll(async () => {
    store = await openTestStore();
    counts = countClaims(store);
    server = await testServer(store, { claimPollIntervalMs: 200 });
  });
  afterAll(async () => {
    await server.close();
    await store.close();
    await dropSchema(store.options.schema);
  });

  it('30 idle long-polls poll in turn, and a batch that falls due is taken by one claim after another', async () => {
    const api = client(server.app);
    const queue = `poll${++n}`;
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await api('POST', `${W}/register`, {
        machineId: `p${++n}`,
        types: ['polled'],
        queues: [queue],
      });
      ids.push(r.body.workerId);
    }
    const answers = ids.map((id) => api('POST', `${W}/${id}/claim`, { limit: 1, waitMs: 15_000 }));
    await waitFor(() => total(counts, ids) >= 30 || null, 'every poll to claim once');
    await waitFor(() => WorkWaiters.forStore(store).size >= 30 || null, 'the polls to wait');

    const before = total(counts, ids);
    await new Promise((r) => setTimeout(r, 2000));
    // One shared poll every 100–300 ms: about 10 claims in 2 s, where each poll on its own
    // timer would have run about 300.
    const idleClaims = total(counts, ids) - before;
    expect(idleClaims).toBeGreaterThanOrEqual(4);
    expect(idleClaims).toBeLessThanOrEqual(25);

    // Five tasks that become due without a commit (no wake-up): the poll that finds the first hands
    // its turn on, so all five are taken within a few polls, each by another long-poll.
    const created = await api('POST', '/api/v1/tasks/bulk', {
      tasks: [1, 2, 3, 4, 5].map(() => ({ type: 'polled', queue, delayMs: 400 })),
    });
    expect(created.status).toBe(201);
    const taken = new Map<string, string>();
    await waitFor(async () => {
      for (const [i, a] of answers.entries()) {
        const r = await Promise.race([a, new Promise<null>((res) => setTimeout(() => res(null), 5))]);
        for (const t of r?.body.tasks ?? []) taken.set(t.id, ids[i]!);
      }
      return taken.size === 5 || null;
    }, 'five polls to take the five delayed tasks');
    expect(new Set(taken.values()).size).toBe(5);
  });
});
