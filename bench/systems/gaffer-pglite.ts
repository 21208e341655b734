import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GafferClient } from '../../src/client/client.js';
import { silentLogger } from '../../src/engine/logger.js';
import { openPgliteStore, type SqlStore } from '../../src/store/index.js';
import { DirectTransport } from '../../src/worker/direct-transport.js';
import { Worker } from '../../src/worker/worker.js';
import { packageVersion } from '../lib/pg.js';
import type { BenchConfig } from '../lib/types.js';
import type { Handler, SystemDriver, WorkerSide } from './driver.js';
import { clientProducer, gafferVersions, gafferWorkerConfig, TASK_TYPE } from './gaffer.js';

/**
 * The embedded store: PGlite on a data directory, producer and worker in one
 * process. One instance serves the whole bench (opening one costs seconds); each
 * reset drops and re-creates Gaffer's schema in it.
 */
export default function gafferPglite(cfg: BenchConfig): SystemDriver {
  const workerCfg = gafferWorkerConfig(cfg);
  let dataDir: string | null = null;
  let store: SqlStore | null = null;

  const current = (): SqlStore => {
    if (!store) throw new Error('reset() first');
    return store;
  };

  return {
    name: 'gaffer-pglite',
    inProcess: true,
    config: {
      transport: 'DirectTransport (PGlite, in process)',
      ...workerCfg,
      storage: 'dataDir on local disk',
    },
    versions: { ...gafferVersions(), '@electric-sql/pglite': packageVersion('@electric-sql/pglite') },
    async reset() {
      if (!store) {
        dataDir = mkdtempSync(join(tmpdir(), 'gaffer-bench-pglite-'));
        store = await openPgliteStore({ dataDir });
        return;
      }
      await store.db.exec(`drop schema ${store.options.schema} cascade`);
      await store.migrate();
    },
    async producer() {
      const s = current();
      const count = async () => {
        const res = await s.db.query<{ n: number }>(
          `select count(*)::int as n from ${s.options.schema}.tasks where status = 'completed'`,
        );
        return res.rows[0]?.n ?? 0;
      };
      return clientProducer(new GafferClient(s), count, async () => {});
    },
    async worker(handler: Handler): Promise<WorkerSide> {
      const worker = new Worker({
        transport: new DirectTransport(current()),
        ...workerCfg,
        logger: silentLogger,
      });
      worker.handle(TASK_TYPE, (payload) => handler(payload as never));
      return { start: () => worker.start(), stop: async () => void (await worker.stop()) };
    },
    async dispose() {
      if (store) await store.close();
      store = null;
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      dataDir = null;
    },
  };
}
