import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskContext } from '../../src/worker/worker.js';
import { type Dashboard, startDashboard, until } from './harness.js';

/** Workflows in the dashboard: the waiting status in the filters, a task's wait and dependencies, the tree of children. */
describe('dashboard: workflows', () => {
  let d: Dashboard;
  beforeAll(async () => {
    d = await startDashboard();
  }, 90_000);
  afterAll(async () => {
    await d?.close();
  });

  it('a waiting task shows what it waits for; the status filter knows waiting', async () => {
    const { page } = d;
    const first = await d.client.enqueue('wf.fetch', { n: 1 }, { id: 'wf-fetch' });
    const dependent = await d.client.enqueue('wf.publish', null, { id: 'wf-publish', dependsOn: [first.id] });
    expect(dependent.status).toBe('waiting');
    await page.goto(`${d.url}/tasks?status=waiting`);
    await expect
      .poll(() => page.locator('tbody tr').allTextContents())
      .toEqual([expect.stringContaining('wf-publish')]);
    expect(await page.locator('select[name="status"] option').allTextContents()).toContain('waiting');
    await page.goto(`${d.url}/tasks/wf-publish`);
    await expect
      .poll(() => page.getByTestId('task-wait').textContent())
      .toContain('Waiting for dependencies (1 unfinished');
    expect(await page.getByTestId('task-graph').textContent()).toContain('wf-fetch');
    await d.screenshot('task-waiting');
  });

  it('a parent that fanned out is the root of a tree of its children', async () => {
    const { page } = d;
    await d.startWorker(
      { concurrency: 2 },
      {
        'wf.report': async (_p: never, ctx: TaskContext) => {
          if (!ctx.childResults) {
            return ctx.spawnAndWait(
              [0, 1, 2].map((i) => ({ type: 'wf.part', id: `wf-part-${i}`, payload: { i } })),
            );
          }
          return { parts: ctx.childResults.length };
        },
        'wf.part': async (p: { i: number }) => ({ i: p.i }),
      },
    );
    const parent = await d.client.enqueue('wf.report', null, { id: 'wf-report' });
    await d.client.waitFor(parent.id, { timeoutMs: 20_000 });
    await page.goto(`${d.url}/tasks/wf-part-1`);
    const tree = page.getByTestId('task-tree');
    // A node still loading is an <li> with an ellipsis: wait for every node to be drawn, not just counted.
    await expect.poll(() => tree.locator('li').count()).toBe(4);
    for (const id of ['wf-report', 'wf-part-0', 'wf-part-1', 'wf-part-2'])
      await expect.poll(() => tree.textContent()).toContain(id);
    // The root links to the parent's own page, where the same tree is drawn.
    await tree.getByRole('link', { name: 'wf-report' }).click();
    await until(() => page.url().endsWith('/tasks/wf-report'));
    await expect.poll(() => page.getByTestId('task-tree').locator('li').count()).toBe(4);
    await d.screenshot('task-tree');
  });
});
