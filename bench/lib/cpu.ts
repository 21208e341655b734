import { readFileSync } from 'node:fs';

/** CPU time a process has spent running, in ms (from /proc/<pid>/schedstat); 0 if it is gone. */
export function cpuMs(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return 0;
  }
}

/**
 * CPU spent by a set of processes between start() and stop(). The set is read
 * again at the end (pools open connections as they go); a process that appears
 * later counts from zero. Unlike wall time, this barely moves when other work
 * shares the machine, so it shows the cost of a design even on a noisy box.
 */
export class CpuMeter {
  private constructor(
    private readonly pids: () => Promise<number[]>,
    private readonly before: Map<number, number>,
  ) {}

  static async start(pids: () => Promise<number[]>): Promise<CpuMeter> {
    const before = new Map<number, number>();
    for (const pid of await pids()) before.set(pid, cpuMs(pid));
    return new CpuMeter(pids, before);
  }

  async stop(): Promise<number> {
    const now = new Set([...(await this.pids()), ...this.before.keys()]);
    let total = 0;
    for (const pid of now) total += Math.max(0, cpuMs(pid) - (this.before.get(pid) ?? 0));
    return total;
  }
}
