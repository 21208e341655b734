import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GafferClient } from '../../src/client/client.js';
import { RateLimitedError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/engine/logger.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { openPgliteStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/store.js';
import { DirectTransport } from '../../src/worker/direct-transport.js';
import { HttpTransport } from '../../src/worker/http-transport.js';
import type { WorkerTransport } from '../../src/worker/transport.js';
import { Worker } from '../../src/worker/worker.js';

// Issue 14, item 3: a handler reports a provider's rate limit (ctx.rateLimited or a RateLimitedError);
// the task waits in the queue and runs again, its attempt not spent, over both transports.

let store: Store;
let server: RunningServer;
let client: GafferClient;

beforeAll(async () => {
  store = await openPgliteStore();
  server = await startServer({
    store,
    port: 0,
    logger: silentLogger,
    maintenance: false,
    claimPollIntervalMs: 50,
  });
  client = new GafferClient(store);
});

afterAll(async () => {
  await server?.close();
  await store?.close();
});

const transports: Array<[string, () => WorkerTransport]> = [
  ['DirectTransport', () => new DirectTransport(store)],
  ['HttpTransport', () => new HttpTransport({ url: server.url })],
];

describe.each(transports)('rate limits reported by a handler over %s', (name, transport) => {
  it('pushes the task back twice without spending its one attempt, then completes it', async () => {
    const type = `rl.${name}`;
    const worker = new Worker({ transport: transport(), logger: silentLogger, claimWaitMs: 500 });
    const runs: number[] = [];
    worker.handle(type, {
      handler: (_payload, ctx) => {
        runs.push(ctx.attempt);
        if (runs.length === 1) ctx.rateLimited(50, '429 from the provider');
        if (runs.length === 2) throw new RateLimitedError(10);
        return { ok: true };
      },
    });
    await worker.start();
    try {
      const task = await client.enqueue(type, {}, { maxAttempts: 1 });
      const done = await client.waitFor(task.id, { timeoutMs: 15_000 });
      expect(done).toMatchObject({ status: 'completed', attempt: 3, attemptFloor: 2, result: { ok: true } });
      expect(runs).toEqual([1, 2, 3]);
      const events = await store.getTaskEvents(task.id);
      const limited = events.filter((e) => e.kind === 'rate_limited');
      expect(limited.map((e) => e.attempt)).toEqual([1, 2]);
      expect(limited[0]!.data).toMatchObject({ retryAfterMs: 50, reason: '429 from the provider' });
      expect(typeof limited[0]!.data!.until).toBe('string');
    } finally {
      await worker.stop();
    }
    // Counted once its report is answered; stop() waits for that.
    expect(worker.summary()).toMatchObject({ completed: 1, failed: 0 });
  });

  it('a wait the store refuses fails the attempt with the reason instead', async () => {
    const type = `rl.bad.${name}`;
    const worker = new Worker({ transport: transport(), logger: silentLogger, claimWaitMs: 500 });
    worker.handle(type, { handler: (_p, ctx) => ctx.rateLimited(30 * 24 * 3600_000, 'slow down') });
    await worker.start();
    try {
      const task = await client.enqueue(type, {}, { maxAttempts: 1 });
      await expect(client.waitFor(task.id, { timeoutMs: 15_000 })).rejects.toThrow(/slow down/);
      const read = await store.getTask(task.id);
      expect(read.status).toBe('failed');
      expect(read.error?.message).toMatch(/retryAfterMs/);
    } finally {
      await worker.stop();
    }
  });
});
