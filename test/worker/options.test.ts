import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/engine/logger.js';
import { openPgliteStore } from '../../src/store/index.js';
import { DirectTransport } from '../../src/worker/direct-transport.js';
import { Worker } from '../../src/worker/worker.js';

describe('Worker options', () => {
  it('an option passed as undefined (an unset env var, an absent flag) keeps its default', async () => {
    const store = await openPgliteStore();
    try {
      const saved = process.env.GAFFER_MACHINE_ID;
      delete process.env.GAFFER_MACHINE_ID;
      const worker = new Worker({
        transport: new DirectTransport(store),
        logger: silentLogger,
        machineId: undefined,
        concurrency: undefined,
        prefetch: undefined,
        heartbeatMs: undefined,
        claimWaitMs: undefined,
        shutdownGraceMs: undefined,
        handleSignals: undefined,
        version: undefined,
      });
      if (saved !== undefined) process.env.GAFFER_MACHINE_ID = saved;
      expect(worker.options).toMatchObject({
        machineId: hostname(),
        concurrency: 10,
        prefetch: 0,
        heartbeatMs: 10_000,
        claimWaitMs: 20_000,
        shutdownGraceMs: 30_000,
        handleSignals: false,
        version: '0.1.0',
      });
      worker.handle('opts.noop', () => null);
      await worker.start();
      const [w] = await store.listWorkers({});
      expect(w?.machineId).toBe(hostname());
      await worker.stop();
    } finally {
      await store.close();
    }
  });
});
