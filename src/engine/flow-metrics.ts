import { Gauge, type Registry } from 'prom-client';
import type { FlowControl } from '../store/flow-types.js';

type Labels = 'scope' | 'name';

/**
 * Gauges of flow control (issue 14), one series per queue or type under control: whether it is paused,
 * what runs and what waits on its limits, and the limits themselves. Read with the other database
 * gauges, from listFlowControls (whose cost grows with the controls and running tasks only).
 */
export class FlowGauges {
  private readonly paused: Gauge<Labels>;
  private readonly running: Gauge<Labels>;
  private readonly waiting: Gauge<Labels>;
  private readonly max: Gauge<Labels | 'limit'>;
  private readonly keysAtLimit: Gauge<Labels>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.paused = new Gauge({
      name: 'gaffer_queue_paused',
      help: '1 while a queue or task type (scope) is paused: nothing new of it is claimed',
      labelNames: ['scope', 'name'],
      registers,
    });
    this.running = new Gauge({
      name: 'gaffer_limit_running',
      help: 'Tasks of a queue or type under flow control running now, fleet-wide',
      labelNames: ['scope', 'name'],
      registers,
    });
    this.waiting = new Gauge({
      name: 'gaffer_limit_waiting',
      help: 'Runnable tasks of a queue or type held back now by its pause, a full concurrency limit or a full rate window',
      labelNames: ['scope', 'name'],
      registers,
    });
    this.max = new Gauge({
      name: 'gaffer_limit_max',
      help: 'A limit of a queue or type: concurrency and key_concurrency in tasks, rate and key_rate in starts per second',
      labelNames: ['scope', 'name', 'limit'],
      registers,
    });
    this.keysAtLimit = new Gauge({
      name: 'gaffer_limit_keys_at_limit',
      help: 'Concurrency keys of a queue or type whose running tasks fill its per-key limit now',
      labelNames: ['scope', 'name'],
      registers,
    });
  }

  apply(controls: readonly FlowControl[]): void {
    for (const g of [this.paused, this.running, this.waiting, this.max, this.keysAtLimit]) g.reset();
    for (const c of controls) {
      const labels = { scope: c.scope, name: c.name };
      this.paused.set(labels, c.paused ? 1 : 0);
      this.running.set(labels, c.running);
      this.waiting.set(labels, c.waiting);
      this.keysAtLimit.set(labels, c.keysAtLimit);
      if (c.concurrency !== null) this.max.set({ ...labels, limit: 'concurrency' }, c.concurrency);
      if (c.keyConcurrency !== null) this.max.set({ ...labels, limit: 'key_concurrency' }, c.keyConcurrency);
      if (c.rate) this.max.set({ ...labels, limit: 'rate' }, (c.rate.limit * 1000) / c.rate.intervalMs);
      if (c.keyRate)
        this.max.set({ ...labels, limit: 'key_rate' }, (c.keyRate.limit * 1000) / c.keyRate.intervalMs);
    }
  }
}
