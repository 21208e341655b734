import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type EnqueueOptions,
  GafferClient,
  type Json,
  type PruneResult,
  type Task,
  type TaskStatus,
} from '@gafferhq/gaffer';
import { HttpBackend } from '@gafferhq/gaffer/client';
import { startServer } from '@gafferhq/gaffer/server';
import pino from 'pino';
import { EntriesApi, type EntriesResponse, type Entry } from './entries-api.js';
import { Gates, TYPES, tracker } from './workers.js';

export const SHORT_ID = 'short_456';
/** A second short_id whose scenario is generated but never saved. */
export const UNSAVED_SHORT_ID = 'short_789';
const USER = 'user123';
const DAY = 24 * 3600_000;

export interface Snapshot {
  step: string;
  entries: EntriesResponse;
}

export interface DemoReport {
  url: string;
  ids: Record<
    'scraping' | 'image' | 'scenario' | 'video' | 'extraction' | 'finalize' | 'keyless' | 'unsaved',
    string
  >;
  snapshots: Snapshot[];
  /** GET /entries/task/:id of the image analysis while its handler runs. */
  runningEntry: { status: number; body: unknown };
  taskStatusWhileRunning: TaskStatus;
  scrapingEntry: { status: number; body: unknown };
  keylessEntry: { status: number; body: unknown };
  removeStatus: number;
  removeAgainStatus: number;
  afterRemove: { status: number; body: unknown };
  finalizeTaskAfterRemove: Task;
  retention: {
    tasksBefore: number;
    /** MaintenanceService.retain(now + 1 day): nothing is 7 days old yet. */
    early: PruneResult | null;
    tasksAfterEarly: number;
    /** MaintenanceService.retain(now + 8 days). */
    late: PruneResult | null;
    tasksAfterLate: number;
    remainingIds: string[];
    unsavedEntries: Entry[];
  };
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

/**
 * Seed 001 end to end: the session entries of a short_id through their life,
 * read with the seed's three calls over HTTP, and retention with a moved clock.
 */
export async function runDemo(
  opts: { onLog?: (line: Record<string, unknown>) => void } = {},
): Promise<DemoReport> {
  const logger = pino({ level: 'info', base: null }, { write: (s: string) => opts.onLog?.(JSON.parse(s)) });
  const dataDir = mkdtempSync(join(tmpdir(), 'gaffer-session-tracking-'));
  const server = await startServer({ dataDir, port: 0, logger: logger.child({ component: 'server' }) });
  const client = new GafferClient(new HttpBackend({ url: server.url }));
  const api = new EntriesApi(server.url);
  const gates = new Gates();
  const worker = tracker(server.url, client, gates, logger.child({ component: 'worker' }));
  const snapshots: Snapshot[] = [];
  const snap = async (step: string) => {
    snapshots.push({ step, entries: await api.list(SHORT_ID) });
  };
  const statusOf = async (id: string) => (await client.get(id)).status;
  const reached = (id: string, ...s: TaskStatus[]) =>
    waitFor(`${id} to be ${s.join('/')}`, async () => s.includes(await statusOf(id)));
  try {
    for (const [type, tracking] of Object.entries(TYPES)) await client.defineType(type, { tracking });
    const mk = (type: string, payload: Json = {}, extra: EnqueueOptions = {}) =>
      client.enqueue(type, payload, { key: SHORT_ID, userId: USER, ...extra });

    // 1. Tasks created with the short_id: every type but scraping opens an entry.
    const scraping = await mk('scraping', { url: 'https://shop.example/p/1' });
    const image = await mk('image_analysis', { gate: true });
    const scenario = await mk('scenario_generation');
    const video = await mk('video_generation', { fail: true });
    const extraction = await mk('data_extraction', {}, { delayMs: 3600_000 });
    const keyless = await client.enqueue('image_analysis', {}, { delayMs: 3600_000 });
    await snap('created');
    const scrapingEntry = await api.get(scraping.id);
    const keylessEntry = await api.get(keyless.id);

    // 2. Running: the entry stays active while the handler works.
    await worker.start();
    await waitFor('the image analysis handler', async () => gates.has(image.id));
    const runningEntry = await api.get(image.id);
    const taskStatusWhileRunning = await statusOf(image.id);
    await snap('running');

    // 3. Completed, failed and cancelled tasks leave by themselves; the held scenario stays.
    gates.release(image.id);
    await client.cancel(extraction.id, { reason: 'short deleted' });
    await reached(image.id, 'completed');
    await reached(scenario.id, 'completed');
    await reached(video.id, 'failed');
    await snap('finished');

    // 4. DELETE /entries/task/:id removes one entry by hand; the task itself is untouched.
    const finalize = await mk('finalize_short', {}, { delayMs: 3600_000 });
    await snap('finalize queued');
    const removeStatus = await api.remove(finalize.id);
    const removeAgainStatus = await api.remove(finalize.id);
    const afterRemove = await api.get(finalize.id);
    const finalizeTaskAfterRemove = await client.get(finalize.id);
    await snap('entry removed');
    await client.cancel(finalize.id);
    await client.cancel(keyless.id);

    // 5. The save step releases the scenario-generation entries of the short_id.
    const save = await mk('save_scenario', { short_id: SHORT_ID });
    await reached(save.id, 'completed');
    await snap('scenario saved');

    // 6. Retention (7 days by default), run with an injected clock instead of waiting a week.
    const unsaved = await client.enqueue('scenario_generation', {}, { key: UNSAVED_SHORT_ID, userId: USER });
    await reached(unsaved.id, 'completed');
    await reached(scraping.id, 'completed');
    const total = async () => (await client.count()).total ?? 0;
    const tasksBefore = await total();
    const early = await server.maintenance!.retain(new Date(Date.now() + DAY));
    const tasksAfterEarly = await total();
    const late = await server.maintenance!.retain(new Date(Date.now() + 8 * DAY));
    const tasksAfterLate = await total();
    const remainingIds = (await client.list({ limit: 100 })).items.map((t) => t.id);
    const unsavedEntries = (await api.list(UNSAVED_SHORT_ID)).sessions;

    return {
      url: server.url,
      ids: {
        scraping: scraping.id,
        image: image.id,
        scenario: scenario.id,
        video: video.id,
        extraction: extraction.id,
        finalize: finalize.id,
        keyless: keyless.id,
        unsaved: unsaved.id,
      },
      snapshots,
      runningEntry,
      taskStatusWhileRunning,
      scrapingEntry,
      keylessEntry,
      removeStatus,
      removeAgainStatus,
      afterRemove,
      finalizeTaskAfterRemove,
      retention: {
        tasksBefore,
        early,
        tasksAfterEarly,
        late,
        tasksAfterLate,
        remainingIds,
        unsavedEntries,
      },
    };
  } finally {
    await worker.stop();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
