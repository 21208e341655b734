import { type GafferClient, NonRetryableError, type TrackingPolicy, Worker } from '@gafferhq/gaffer';
import { HttpTransport } from '@gafferhq/gaffer/worker';
import type { Logger } from 'pino';

/**
 * Seed 001's task types and the session policy each had, hard-coded in its
 * task management module; on Gaffer it is one `tracking` setting per type.
 */
export const TYPES: Record<string, TrackingPolicy> = {
  image_analysis: 'track',
  video_generation: 'track',
  finalize_short: 'track',
  data_extraction: 'track',
  // Stays open after it finishes, until the save step releases it.
  scenario_generation: 'hold',
  save_scenario: 'track',
  // Makes no session entry at all.
  scraping: 'none',
};

export interface Payload {
  /** Keep the handler running until the demo opens the gate (to look at a running task's entry). */
  gate?: boolean;
  /** Fail for good (a non-retryable error). */
  fail?: boolean;
}

/** Lets the demo hold a handler mid-run and let it go. */
export class Gates {
  private readonly open = new Map<string, () => void>();
  wait(taskId: string): Promise<void> {
    return new Promise((r) => this.open.set(taskId, r));
  }
  has(taskId: string): boolean {
    return this.open.has(taskId);
  }
  release(taskId: string): void {
    this.open.get(taskId)?.();
    this.open.delete(taskId);
  }
}

/**
 * One worker for every type. The handlers do no session bookkeeping: Gaffer
 * opens and closes the entries. Only the save step has a session duty, which
 * is the seed's: releasing the scenario-generation entries of its short_id.
 */
export function tracker(url: string, client: GafferClient, gates: Gates, logger: Logger): Worker {
  const worker = new Worker({ transport: new HttpTransport({ url }), claimWaitMs: 1000, logger });
  for (const type of Object.keys(TYPES)) {
    if (type === 'save_scenario') continue;
    worker.handle<Payload>(type, async (payload, ctx) => {
      if (payload?.gate) await gates.wait(ctx.task.id);
      if (payload?.fail) throw new NonRetryableError(`${type} failed: renderer crashed`);
      return { ok: true };
    });
  }
  worker.handle<{ short_id: string }>('save_scenario', async (payload, ctx) => {
    const released = await client.release({ key: payload.short_id, type: 'scenario_generation' });
    ctx.log.info({ event: 'scenario_saved', key: payload.short_id, released }, 'scenario saved');
    return { released };
  });
  return worker;
}
