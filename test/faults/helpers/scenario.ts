import { MaintenanceService } from '../../../src/engine/maintenance.js';
import type { SqlStore } from '../../../src/store/sql-store.js';
import type { WorkerFixtureConfig } from '../fixtures/config.js';
import { newLedgerDir, readLedger, removeLedgerDir } from './ledger.js';
import { dropSchema, faultsUrl, newAppName, newSchema, openTestStore } from './pg.js';
import { Fixture, stopAll } from './procs.js';

export interface PgScenarioOptions {
  leaseMs: number;
  staleAfterMs: number;
  /** Run the maintenance sweep in the test process this often; null: none here. */
  sweepIntervalMs?: number | null;
  maxAttempts?: number;
  poolSize?: number;
}

/**
 * One scenario's world on PostgreSQL: its own schema, a store for the test
 * process, an optional maintenance sweep, an execution ledger directory, and
 * the worker processes it spawned, all removed by cleanup().
 */
export class PgScenario {
  readonly schema: string;
  readonly appName: string;
  readonly ledgerDir: string;
  readonly fixtures: Fixture[] = [];
  store!: SqlStore;
  maintenance: MaintenanceService | null = null;

  constructor(
    readonly tag: string,
    readonly opts: PgScenarioOptions,
  ) {
    this.schema = newSchema(tag);
    this.appName = newAppName(tag);
    this.ledgerDir = newLedgerDir(tag);
  }

  async open(): Promise<this> {
    this.store = await openTestStore({
      schema: this.schema,
      leaseMs: this.opts.leaseMs,
      staleAfterMs: this.opts.staleAfterMs,
      applicationName: `${this.appName}-test`,
      poolSize: this.opts.poolSize ?? 10,
      maxAttempts: this.opts.maxAttempts,
    });
    const sweep = this.opts.sweepIntervalMs === undefined ? 200 : this.opts.sweepIntervalMs;
    if (sweep !== null) {
      this.maintenance = new MaintenanceService(this.store, {
        sweepIntervalMs: sweep,
        retentionIntervalMs: 0,
      });
      this.maintenance.start();
    }
    return this;
  }

  workerConfig(
    over: Partial<WorkerFixtureConfig> & { queue: string; concurrency: number },
  ): WorkerFixtureConfig {
    return {
      databaseUrl: faultsUrl(),
      schema: this.schema,
      applicationName: `${this.appName}-w`,
      leaseMs: this.opts.leaseMs,
      staleAfterMs: this.opts.staleAfterMs,
      ledgerDir: this.ledgerDir,
      ...over,
    };
  }

  spawnWorker(over: Partial<WorkerFixtureConfig> & { queue: string; concurrency: number }): Fixture {
    const f = new Fixture('worker', this.workerConfig(over));
    this.fixtures.push(f);
    return f;
  }

  ledger() {
    return readLedger(this.ledgerDir);
  }

  async counts(queue?: string): Promise<Record<string, number>> {
    return this.store.countTasks(queue ? { queue } : {});
  }

  async cleanup(): Promise<void> {
    await stopAll(this.fixtures);
    await this.maintenance?.stop();
    await this.store?.close().catch(() => {});
    await dropSchema(this.schema).catch(() => {});
    removeLedgerDir(this.ledgerDir);
  }
}
