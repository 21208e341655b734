import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GafferClient } from '../../src/client/client.js';
import { HttpBackend } from '../../src/client/http-backend.js';
import { MAX_TASK_DEPTH } from '../../src/core/states.js';
import { silentLogger } from '../../src/engine/logger.js';
import { MaintenanceService } from '../../src/engine/maintenance.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { openPgliteStore, type SqlStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/store.js';
import type { ChildResult, Json } from '../../src/store/types.js';
import { DirectTransport } from '../../src/worker/direct-transport.js';
import { HttpTransport } from '../../src/worker/http-transport.js';
import type { WorkerTransport } from '../../src/worker/transport.js';
import { Worker } from '../../src/worker/worker.js';
import { dropSchema, openTestStore } from '../server/helpers.js';

/**
 * Fan-in and signals through a real Worker (issue 15, items 3 and 4), over both transports: a parent
 * spawns children and waits without a worker slot, then runs again with their results; a task waits
 * for client.signal and runs with its data.
 */
interface Setup {
  store: Store;
  client: GafferClient;
  transport: () => WorkerTransport;
  close(): Promise<void>;
}

const setups: Array<[string, () => Promise<Setup>]> = [
  [
    'DirectTransport on PGlite',
    async () => {
      const store = await openPgliteStore({});
      return {
        store,
        client: new GafferClient(store),
        transport: () => new DirectTransport(store, { pollIntervalMs: 200 }),
        close: () => store.close(),
      };
    },
  ],
  [
    'HttpTransport on PostgreSQL',
    async () => {
      const store: SqlStore = await openTestStore({});
      const server: RunningServer = await startServer({
        store,
        port: 0,
        logger: silentLogger,
        maintenance: false,
        claimPollIntervalMs: 200,
      });
      return {
        store,
        client: new GafferClient(new HttpBackend({ url: server.url })),
        transport: () => new HttpTransport({ url: server.url }),
        close: async () => {
          await server.close();
          await store.close();
          await dropSchema(store.options.schema);
        },
      };
    },
  ],
];

for (const [name, make] of setups) {
  describe(`workflows through a Worker: ${name}`, () => {
    let s: Setup;
    const workers: Worker[] = [];
    const worker = (concurrency = 1) => {
      const w = new Worker({
        transport: s.transport(),
        concurrency,
        logger: silentLogger,
        claimWaitMs: 1000,
        shutdownGraceMs: 1000,
      });
      workers.push(w);
      return w;
    };

    beforeAll(async () => {
      s = await make();
    });
    afterAll(async () => {
      await Promise.all(workers.map((w) => w.stop()));
      await s?.close();
    });

    it('a parent spawns children, frees its slot, and runs again with their results', async () => {
      const seen: Array<ChildResult[] | undefined> = [];
      // One slot: the children can only run because the waiting parent does not hold it.
      const w = worker(1)
        .handle('report', {
          handler: async (payload, ctx) => {
            seen.push(ctx.childResults);
            if (!ctx.childResults) {
              const parts = (payload as { parts: number }).parts;
              return ctx.spawnAndWait(
                Array.from({ length: parts }, (_, i) => ({ type: 'part', payload: { i } })),
              );
            }
            const ok = ctx.childResults.filter((c) => c.status === 'completed');
            return { total: ok.reduce((a, c) => a + (c.result as { n: number }).n, 0) };
          },
        })
        .handle('part', {
          handler: async (payload) => {
            const i = (payload as { i: number }).i;
            if (i === 2) throw Object.assign(new Error('part 2 is broken'), { retryable: false });
            return { n: i * 10 };
          },
        });
      await w.start();
      const parent = await s.client.enqueue('report', { parts: 4 }, { maxAttempts: 1 });
      const done = await s.client.waitFor(parent.id, { timeoutMs: 20_000 });
      expect(done.result).toEqual({ total: 0 + 10 + 30 });
      // The first attempt waited (unspent), the second ran: a budget of one attempt was enough.
      expect(done.attempt).toBe(2);
      expect(seen[0]).toBeUndefined();
      const results = seen[1]!;
      expect(results.map((r) => r.status)).toEqual(['completed', 'completed', 'failed', 'completed']);
      expect(results[2]!.error?.message).toBe('part 2 is broken');
      const graph = await s.client.graph(parent.id);
      expect(graph.children).toHaveLength(4);
      expect(graph.children.every((c) => c.round === 1)).toBe(true);
      const child = await s.client.get(graph.children[0]!.id);
      expect(child).toMatchObject({ parentId: parent.id, depth: 1 });
      const kinds = (await s.client.events(parent.id)).map((e) => e.kind);
      expect(kinds).toEqual(expect.arrayContaining(['waiting', 'wait_ended', 'completed']));
    });

    it("a child's failure cancels the parent with onChildFailure 'cancel'", async () => {
      const w = worker(2)
        .handle('strict', {
          handler: async (_p, ctx) =>
            ctx.childResults
              ? 'ran'
              : ctx.spawnAndWait([{ type: 'bad', maxAttempts: 1 }], { onChildFailure: 'cancel' }),
        })
        .handle('bad', {
          handler: async () => {
            throw new Error('nope');
          },
        });
      await w.start();
      const parent = await s.client.enqueue('strict', null);
      await expect(s.client.waitFor(parent.id, { timeoutMs: 20_000 })).rejects.toThrow(/cancelled/);
      const events = await s.client.events(parent.id);
      expect(events.find((e) => e.kind === 'dependency_failed')?.data).toMatchObject({
        status: 'failed',
        kind: 'children',
      });
    });

    it('children nest up to the depth limit, and no deeper', async () => {
      const depths: number[] = [];
      const w = worker(4).handle('nest', {
        handler: async (_p, ctx) => {
          if (ctx.childResults) return { depth: depths.length };
          const me = await s.client.get(ctx.task.id);
          depths.push(me.depth);
          if (me.depth === MAX_TASK_DEPTH) {
            // One more level is refused: the handler sees the error and completes instead.
            const err = await ctx.spawnAndWait([{ type: 'nest' }]).catch((e: Error) => e);
            return { refused: String(err) };
          }
          return ctx.spawnAndWait([{ type: 'nest' }]);
        },
      });
      await w.start();
      const root = await s.client.enqueue('nest', null);
      const done = await s.client.waitFor(root.id, { timeoutMs: 30_000 });
      expect(done.status).toBe('completed');
      expect(depths).toEqual(Array.from({ length: MAX_TASK_DEPTH + 1 }, (_, i) => i));
      const leaf = (await s.client.list({ type: 'nest', limit: 100 })).items.find(
        (t) => t.depth === MAX_TASK_DEPTH,
      )!;
      expect(String((leaf.result as { refused: string }).refused)).toContain('at most 10 deep');
    });

    it('a task waits for a signal and runs with its data; a handler can wait for one too', async () => {
      const got: Array<{ data: Json | undefined; timedOut: boolean }> = [];
      const w = worker(1)
        .handle('approve', {
          handler: async (_p, ctx) => {
            got.push({ data: ctx.signalData, timedOut: ctx.waitTimedOut });
            return { approvedBy: (ctx.signalData as { by: string }).by };
          },
        })
        .handle('two-step', {
          handler: async (_p, ctx) => {
            if (ctx.signalData === undefined) return ctx.waitForSignal({ timeoutMs: 60_000 });
            return { second: ctx.signalData };
          },
        });
      await w.start();
      const t = await s.client.enqueue('approve', null, { waitFor: { signal: true, timeoutMs: 60_000 } });
      expect(t.status).toBe('waiting');
      expect((await s.client.graph(t.id)).wait).toMatchObject({ kind: 'signal', onTimeout: 'fail' });
      await s.client.signal(t.id, { by: 'ada' });
      const done = await s.client.waitFor(t.id, { timeoutMs: 15_000 });
      expect(done.result).toEqual({ approvedBy: 'ada' });
      expect(got).toEqual([{ data: { by: 'ada' }, timedOut: false }]);
      // Signalling a task that does not wait is refused.
      await expect(s.client.signal(t.id, {})).rejects.toMatchObject({ code: 'conflict' });

      const two = await s.client.enqueue('two-step', null);
      const waiting = await waitUntil(async () => (await s.client.get(two.id)).status === 'waiting');
      expect(waiting).toBe(true);
      await s.client.signal(two.id, 42);
      expect((await s.client.waitFor(two.id, { timeoutMs: 15_000 })).result).toEqual({ second: 42 });
    });

    it('a signal wait that times out fails, or runs with a timeout marker', async () => {
      const w = worker(1).handle('late', {
        handler: async (_p, ctx) => ({ timedOut: ctx.waitTimedOut }),
      });
      await w.start();
      const fails = await s.client.enqueue('late', null, { waitFor: { signal: true, timeoutMs: 1000 } });
      const runs = await s.client.enqueue('late', null, {
        waitFor: { signal: true, timeoutMs: 1000, onTimeout: 'run' },
      });
      // The maintenance sweep ends them (time moved, not slept).
      const swept = await new MaintenanceService(s.store).sweep(new Date(Date.now() + 5000));
      expect(swept?.waitsExpired).toBe(2);
      const failed = await s.client.get(fails.id);
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatchObject({ kind: 'timeout', retryable: false });
      expect((await s.client.waitFor(runs.id, { timeoutMs: 15_000 })).result).toEqual({ timedOut: true });
    });
  });
}

async function waitUntil(fn: () => Promise<boolean>, timeoutMs = 15_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
