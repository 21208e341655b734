import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

/** How often the main loop stamps the shared clock: a stall shorter than this is not seen as one. */
const TICK_MS = 50;

/**
 * The one clock of this thread's event loop, shared by every Worker in the process: they all run on
 * this loop, so one timer and one perf_hooks histogram measure it for all of them (a process with 500
 * Workers ran 500 of each: 35,000 timer callbacks a second). Each tick stamps every monitor's buffer.
 */
class LoopClock {
  private readonly monitors = new Set<LoopLagMonitor>();
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  private timer: NodeJS.Timeout | null = null;

  add(m: LoopLagMonitor): void {
    this.monitors.add(m);
    if (this.timer) {
      m.stamp(Date.now(), 0n);
      return;
    }
    this.histogram.enable();
    this.tick();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  remove(m: LoopLagMonitor): void {
    this.monitors.delete(m);
    if (this.monitors.size > 0 || !this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
    this.histogram.disable();
  }

  private tick(): void {
    const now = Date.now();
    const worst = BigInt(Math.round(this.histogram.max / 1e6));
    this.histogram.reset();
    for (const m of this.monitors) m.stamp(now, worst);
  }
}

const clock = new LoopClock();

/**
 * The lag of the worker's main event loop (the one its handlers run on), readable from any thread.
 * perf_hooks' monitorEventLoopDelay records a delay only once the loop runs again, so it cannot see a
 * stall that is still going on; the loop therefore also stamps a shared clock every TICK_MS, and a
 * reader (the heartbeat thread, while a handler busy-loops) measures the stall in progress from it.
 * Layout of the SharedArrayBuffer (BigInt64, Atomics): [0] the last stamp (epoch ms), [1] the worst
 * delay perf_hooks recorded since this monitor's last read (ms).
 */
export class LoopLagMonitor {
  readonly shared = new SharedArrayBuffer(16);
  private readonly view = new BigInt64Array(this.shared);
  private started = false;

  start(): void {
    if (this.started) return;
    this.started = true;
    clock.add(this);
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    clock.remove(this);
  }

  /** Called by the clock on each tick. */
  stamp(now: number, worst: bigint): void {
    Atomics.store(this.view, 0, BigInt(now));
    for (;;) {
      const cur = Atomics.load(this.view, 1);
      if (worst <= cur || Atomics.compareExchange(this.view, 1, cur, worst) === cur) break;
    }
  }

  /** The lag now (from the main loop itself: the worst since the previous read). */
  read(): number {
    return readLoopLag(this.shared);
  }
}

/** The stall in progress, or the worst recorded since the previous read (which it resets), in ms. */
export function readLoopLag(shared: SharedArrayBuffer, now = Date.now()): number {
  const view = new BigInt64Array(shared);
  const last = Number(Atomics.load(view, 0));
  const worst = Number(Atomics.exchange(view, 1, 0n));
  const stalled = last > 0 ? Math.max(0, now - last - TICK_MS) : 0;
  return Math.max(stalled, worst);
}
