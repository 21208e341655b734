import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NonRetryableError } from '../../src/core/errors.js';
import { type Dashboard, latch, startDashboard, until } from './harness.js';

describe('dashboard: actions', () => {
  let d: Dashboard;
  /** The mailer bounces an address until the test "fixes" it. */
  const broken = new Set<string>();
  beforeAll(async () => {
    d = await startDashboard();
    await d.startWorker(
      { machineId: 'mail-01', queues: ['mail'], concurrency: 4 },
      {
        'email.send': async (p: { to: string }) => {
          if (broken.has(p.to)) throw new NonRetryableError(`550 mailbox unavailable: ${p.to}`);
          return { sent: p.to };
        },
      },
    );
  });
  afterAll(async () => {
    await d?.close();
  });

  const rows = (testId: string) => d.page.locator(`[data-testid="${testId}"] tbody tr`);

  it('a retry button retries one dead letter, and it runs again', async () => {
    broken.add('ada@example.com');
    const t = await d.client.enqueue('email.send', { to: 'ada@example.com' }, { queue: 'mail' });
    await until(async () => (await d.store.getTask(t.id)).status === 'failed');
    broken.delete('ada@example.com');
    const { page } = d;
    await page.goto(`${d.url}/dead-letters`);
    const row = page.locator(`tr[data-task-id="${t.id}"]`);
    expect(await row.textContent()).toContain('550 mailbox unavailable');
    await row.getByRole('button', { name: 'Retry' }).click();
    await until(async () => (await d.store.getTask(t.id)).status === 'completed');
    await expect.poll(() => row.count()).toBe(0);
    const after = await d.store.getTask(t.id);
    expect(after.retryHistory).toHaveLength(1);
    expect(after.retryHistory[0]!.outcome).toBe('completed');
    // The task page shows the manual retry and its outcome.
    await page.goto(`${d.url}/tasks/${t.id}`);
    await expect.poll(() => page.getByTestId('retry-history').textContent()).toContain('completed');
  });

  it('"retry all matching" retries only the dead letters the filter matches, after a confirmation', async () => {
    for (const to of ['b1@example.com', 'b2@example.com', 'other@example.org']) broken.add(to);
    const { tasks } = await d.client.enqueueMany(
      ['b1@example.com', 'b2@example.com', 'other@example.org'].map((to) => ({
        type: 'email.send',
        queue: 'mail',
        payload: { to },
      })),
    );
    await until(async () => (await d.client.count({ queue: 'mail', status: 'failed' })).failed === 3);
    broken.clear();
    const { page } = d;
    await page.goto(`${d.url}/dead-letters?errorContains=example.com`);
    await expect.poll(() => rows('dead-letter-table').count()).toBe(2);
    await page.getByRole('button', { name: 'Retry all matching (2)' }).click();
    const dialog = page.getByRole('dialog');
    expect(await dialog.textContent()).toContain('Retry 2 dead letters?');
    await dialog.getByRole('button', { name: 'Retry all' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('Retried 2 of 2');
    await until(async () => (await d.client.count({ queue: 'mail' })).completed === 3);
    expect((await d.store.getTask(tasks[2]!.id)).status).toBe('failed');
  });

  it('deleting a worker asks for confirmation, then removes it', async () => {
    const w = await d.startWorker(
      { machineId: 'lab-pc-09', name: 'slot-2' },
      { 'sim.run': async () => null },
    );
    // A deleted live worker's process registers again under a new id; this test follows the first one.
    const id = w.id!;
    const { page } = d;
    await page.goto(`${d.url}/workers`);
    const row = page.locator(`tr[data-worker-id="${id}"]`);
    await expect.poll(() => row.count()).toBe(1);
    await row.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog');
    expect(await dialog.textContent()).toContain(`Delete worker ${id}?`);
    // Cancel keeps it.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect(await dialog.isVisible()).toBe(false);
    expect(await d.store.listWorkers({ includeStale: true })).toContainEqual(
      expect.objectContaining({ id: id }),
    );
    // Confirm removes it, from the API and from the page.
    await row.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete worker' }).click();
    await until(async () => !(await d.store.listWorkers({ includeStale: true })).some((x) => x.id === id));
    await expect.poll(() => row.count()).toBe(0);
  });

  it('deleting a worker from its own page asks first, then goes back to the list', async () => {
    const gone = await d.store.registerWorker({ machineId: 'lab-pc-10', types: ['sim.run'] });
    const { page } = d;
    await page.goto(`${d.url}/workers/${gone.id}`);
    await page.getByRole('button', { name: 'Delete' }).click();
    await d.screenshot('confirm-delete', { fullPage: false });
    await page.getByRole('dialog').getByRole('button', { name: 'Delete worker' }).click();
    await page.waitForURL(`${d.url}/workers`);
    const res = await fetch(`${d.url}/api/v1/workers/${gone.id}`);
    expect(res.status).toBe(404);
  });

  it('deleting a session asks for confirmation, cancels its running task, then removes it', async () => {
    const hold = latch();
    let aborted = false;
    await d.startWorker(
      { machineId: 'lab-pc-11', queues: ['study'], concurrency: 1 },
      {
        'sim.step': async (_p, ctx) => {
          ctx.signal.addEventListener('abort', () => {
            aborted = true;
            hold.open();
          });
          await hold.promise;
          if (aborted) throw ctx.signal.reason;
        },
      },
    );
    const session = await d.client.createSession({
      id: 'study-delete-me',
      key: 'study-7',
      queue: 'study',
      tasks: [
        { type: 'sim.step', payload: { n: 0 } },
        { type: 'sim.step', payload: { n: 1 } },
      ],
    });
    await until(async () => (await d.store.getSession(session.session.id)).counts.running === 1);
    const { page } = d;
    await page.goto(`${d.url}/sessions`);
    const row = page.locator('tr[data-session-id="study-delete-me"]');
    await expect.poll(() => row.count()).toBe(1);
    await page.goto(`${d.url}/sessions/study-delete-me`);
    await page.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog');
    expect(await dialog.textContent()).toContain('Delete session study-delete-me?');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await d.store.getSession('study-delete-me')).taskCount).toBe(2);
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete session' }).click();
    await page.waitForURL(`${d.url}/sessions`);
    await expect.poll(() => row.count()).toBe(0);
    const res = await fetch(`${d.url}/api/v1/sessions/study-delete-me`);
    expect(res.status).toBe(404);
    // Its running task was taken from the worker: the handler's signal fired.
    await until(() => aborted);
  });

  it('deleting a session from the list asks first too', async () => {
    await d.client.createSession({
      id: 'cart-1',
      key: 'cart-1',
      queue: 'nowhere',
      tasks: [{ type: 'llm.complete' }],
    });
    const { page } = d;
    await page.goto(`${d.url}/sessions`);
    const row = page.locator('tr[data-session-id="cart-1"]');
    await row.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete session' }).click();
    await expect.poll(() => row.count()).toBe(0);
    expect((await fetch(`${d.url}/api/v1/sessions/cart-1`)).status).toBe(404);
  });

  it('cancels a queued task from its page', async () => {
    const t = await d.client.enqueue('report.render', { id: 1 }, { queue: 'nobody-listens' });
    const { page } = d;
    await page.goto(`${d.url}/tasks/${t.id}`);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel task' }).click();
    await expect.poll(() => page.locator('.page-sub .badge').first().textContent()).toBe('cancelled');
    // A cancelled task can be retried by hand.
    await page.getByRole('button', { name: 'Retry' }).click();
    await expect
      .poll(() => page.locator('.page-sub .badge').first().textContent())
      .toMatch(/retrying|queued/);
  });
});
