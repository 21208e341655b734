import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dashboard, startDashboard, until } from './harness.js';

// Issue 14, item 6: the overview's queue table shows flow control (limits, paused state, tasks waiting on
// a limit) and pauses and resumes a queue after a confirmation.
describe('dashboard: flow control in the queue table', () => {
  let d: Dashboard;
  beforeAll(async () => {
    d = await startDashboard();
  });
  afterAll(async () => {
    await d?.close();
  });

  const row = (queue: string) => d.page.locator(`[data-testid="queue-table"] tr[data-queue="${queue}"]`);

  it('shows a queue’s limits and the tasks waiting on them', async () => {
    await d.store.setLimits({
      scope: 'queue',
      name: 'llm',
      concurrency: 1,
      keyConcurrency: 1,
      rate: { limit: 60, intervalMs: 60_000 },
    });
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    await d.startWorker({ machineId: 'llm-01', queues: ['llm'], concurrency: 4 }, { 'llm.call': () => held });
    await d.client.enqueueMany(
      Array.from({ length: 3 }, (_, i) => ({ type: 'llm.call', queue: 'llm', payload: { i } })),
    );
    // One runs (the queue's limit of 1), two wait on it.
    await until(
      async () => (await d.store.listFlowControls({ scope: 'queue', name: 'llm' }))[0]?.waiting === 2,
    );
    const { page } = d;
    await page.goto(`${d.url}/`);
    await expect
      .poll(() => row('llm').getByTestId('queue-limits').textContent())
      .toBe('1 at once · 1 per key · 60 per 1 min');
    await expect.poll(() => row('llm').getByTestId('queue-waiting').textContent()).toBe('2');
    expect(await row('llm').getByTestId('queue-state').textContent()).toBe('active');
    await d.screenshot('queue-limits');
    release();
  });

  it('pauses a queue after a confirmation, shows it paused, and resumes it', async () => {
    await d.client.enqueue('report.build', {}, { queue: 'reports' });
    const { page } = d;
    await page.goto(`${d.url}/`);
    await row('reports').getByRole('button', { name: 'Pause' }).click();
    const dialog = page.getByRole('dialog');
    expect(await dialog.textContent()).toContain('Pause queue reports?');
    // Cancel leaves it running.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect(await d.store.listFlowControls({ scope: 'queue', name: 'reports' })).toEqual([]);
    await row('reports').getByRole('button', { name: 'Pause' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Pause' }).click();
    await until(
      async () => (await d.store.listFlowControls({ scope: 'queue', name: 'reports' }))[0]?.paused === true,
    );
    await expect.poll(() => row('reports').getByTestId('queue-state').textContent()).toBe('paused');
    await expect.poll(() => row('reports').getByTestId('queue-waiting').textContent()).toBe('1');
    await d.screenshot('queue-paused');
    await row('reports').getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Resume' }).click();
    await until(async () =>
      (await d.store.listFlowControls({ scope: 'queue', name: 'reports' })).every((c) => !c.paused),
    );
    await expect.poll(() => row('reports').getByTestId('queue-state').textContent()).toBe('active');
  });
});
