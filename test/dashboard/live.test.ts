import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dashboard, latch, startDashboard, until } from './harness.js';

describe('dashboard: live updates', () => {
  let d: Dashboard;
  beforeAll(async () => {
    d = await startDashboard();
  });
  afterAll(async () => {
    await d?.close();
  });

  it("moves a running task's progress without a reload", async () => {
    const step1 = latch();
    const step2 = latch();
    let started = false;
    await d.startWorker(
      { machineId: 'render-01', queues: ['live'] },
      {
        'video.render': async (_p, ctx) => {
          started = true;
          await ctx.progress({ done: 1, total: 4, message: 'encoding' });
          await step1.promise;
          await ctx.progress({ done: 3, total: 4, message: 'muxing' });
          await step2.promise;
          return { url: 's3://videos/42.mp4' };
        },
      },
    );
    const task = await d.client.enqueue('video.render', { videoId: 42 }, { queue: 'live' });
    await until(() => started);
    const { page } = d;
    await page.goto(`${d.url}/tasks/${task.id}`);
    const progress = page.getByTestId('task-progress');
    await expect.poll(() => progress.textContent()).toContain('25%');
    // A marker on window proves the page is never reloaded while the numbers move.
    await page.evaluate(() => {
      (globalThis as unknown as { marker: number }).marker = 7;
    });
    await expect.poll(() => page.getByTestId('live-status').textContent()).toBe('Live');
    step1.open();
    await expect.poll(() => progress.textContent(), { timeout: 10_000 }).toContain('75%');
    expect(await progress.textContent()).toContain('muxing');
    await d.screenshot('task-running');
    step2.open();
    await expect
      .poll(() => page.locator('.page-sub .badge').first().textContent(), { timeout: 10_000 })
      .toBe('completed');
    await expect.poll(() => page.locator('pre.json').nth(1).textContent()).toContain('s3://videos/42.mp4');
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(7);
  });

  it('hides a stale worker by default and shows it with its badge on "show stale"', async () => {
    const gone = await d.store.registerWorker({ machineId: 'lab-pc-07', name: 'slot-1', types: ['sim.run'] });
    // Make it stale the way the sweep does when a minute passes without a heartbeat, without waiting a minute.
    await d.store.markStaleWorkers({ now: new Date(Date.now() + 120_000) });
    const live = await d.startWorker(
      { machineId: 'lab-pc-08', name: 'slot-1' },
      { 'sim.run': async () => null },
    );
    const { page } = d;
    await page.goto(`${d.url}/workers`);
    const rows = page.locator('[data-testid="worker-table"] tbody tr');
    await expect.poll(() => page.locator(`tr[data-worker-id="${live.id}"]`).count()).toBe(1);
    expect(await page.locator(`tr[data-worker-id="${gone.id}"]`).count()).toBe(0);
    expect(await rows.locator('.badge-stale').count()).toBe(0);
    await page.getByLabel('Show stale').check();
    const staleRow = page.locator(`tr[data-worker-id="${gone.id}"]`);
    await expect.poll(() => staleRow.count()).toBe(1);
    expect(await staleRow.locator('.badge-stale').textContent()).toBe('stale');
    expect(await staleRow.textContent()).toContain('lab-pc-07');
    expect(await page.locator(`tr[data-worker-id="${live.id}"] .badge-live`).textContent()).toBe('live');
    expect(page.url()).toContain('stale=1');
    await page.getByLabel('Show stale').uncheck();
    await expect.poll(() => staleRow.count()).toBe(0);
  });
});
