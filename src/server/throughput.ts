/**
 * Tasks completed and failed per minute, for the dashboard's overview chart.
 * Sampled from the task counts the live feed reads anyway: each sample adds the
 * growth of the completed and failed totals since the last one to its minute.
 * Shrinking totals (pruning, deletes, manual retries) add nothing, so a minute can
 * undercount, never overcount. Kept in memory for the last hour.
 */
export interface ThroughputPoint {
  /** Start of the minute, ISO 8601. */
  at: string;
  completed: number;
  failed: number;
}

export interface Throughput {
  bucketMs: number;
  /** Since when this server has been sampling (earlier minutes show zero because they were not seen). */
  since: string;
  points: ThroughputPoint[];
}

export class ThroughputSampler {
  private readonly buckets = new Map<number, { completed: number; failed: number }>();
  private last: { completed: number; failed: number } | null = null;
  private readonly startedAt = Date.now();

  constructor(
    private readonly windowBuckets = 60,
    readonly bucketMs = 60_000,
  ) {}

  record(counts: Record<string, number>, now = Date.now()): void {
    const completed = counts.completed ?? 0;
    const failed = counts.failed ?? 0;
    if (this.last) {
      const dc = Math.max(0, completed - this.last.completed);
      const df = Math.max(0, failed - this.last.failed);
      if (dc > 0 || df > 0) {
        const key = Math.floor(now / this.bucketMs) * this.bucketMs;
        const b = this.buckets.get(key) ?? { completed: 0, failed: 0 };
        b.completed += dc;
        b.failed += df;
        this.buckets.set(key, b);
      }
    }
    this.last = { completed, failed };
    const oldest = Math.floor(now / this.bucketMs) * this.bucketMs - this.windowBuckets * this.bucketMs;
    for (const k of this.buckets.keys()) if (k < oldest) this.buckets.delete(k);
  }

  /** The window ending with the current minute, one point a minute, zeros where nothing finished. */
  read(now = Date.now()): Throughput {
    const current = Math.floor(now / this.bucketMs) * this.bucketMs;
    const points: ThroughputPoint[] = [];
    for (let i = this.windowBuckets - 1; i >= 0; i--) {
      const at = current - i * this.bucketMs;
      const b = this.buckets.get(at);
      points.push({ at: new Date(at).toISOString(), completed: b?.completed ?? 0, failed: b?.failed ?? 0 });
    }
    return { bucketMs: this.bucketMs, since: new Date(this.startedAt).toISOString(), points };
  }
}
