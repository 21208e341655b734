import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlStore } from '../../src/store/sql-store.js';
import { type Dashboard, startDashboard } from './harness.js';

// Issue 17, item 2: a huge or deeply nested payload never blanks or stalls the task page; the JSON
// view is cut at 20 000 characters with "Show raw" for the whole of it.
describe('dashboard: huge and deep JSON', () => {
  let d: Dashboard;
  const errors: string[] = [];
  beforeAll(async () => {
    d = await startDashboard();
    d.page.on('pageerror', (e) => errors.push(e.message));
  }, 90_000);
  afterAll(async () => {
    await d?.close();
  });

  it('a payload of 800 000 characters shows its first 20 000, and all of it behind Show raw', async () => {
    const big = Array.from({ length: 8000 }, (_, i) => `item-${i}-${'x'.repeat(85)}`);
    const t = await d.client.enqueue('big.payload', { big });
    const { page } = d;
    await page.goto(`${d.url}/tasks/${t.id}`);
    const view = page.locator('section', { hasText: 'Payload' }).getByTestId('json-view');
    await expect
      .poll(() => view.locator('.json-note').textContent())
      .toMatch(/characters, the first 20,000 shown/);
    const shown = (await view.locator('pre').textContent()) ?? '';
    expect(shown.length).toBeLessThanOrEqual(20_001);
    expect(shown).toContain('item-0-');
    await view.getByRole('button', { name: 'Show raw' }).click();
    await expect
      .poll(async () => ((await view.locator('pre').textContent()) ?? '').length)
      .toBeGreaterThan(800_000);
    expect(await view.locator('pre').textContent()).toContain('item-7999-');
    expect(errors).toEqual([]);
  });

  it('a payload nested 1000 levels deep (stored before the API limit) is shown compact, and the page stays up', async () => {
    const t = await d.client.enqueue('deep.payload', null);
    const deep = `${'['.repeat(1000)}"bottom"${']'.repeat(1000)}`;
    await (d.store as SqlStore).db.query('update tasks set payload = $2::jsonb where id = $1', [t.id, deep]);
    const { page } = d;
    await page.goto(`${d.url}/tasks/${t.id}`);
    const view = page.locator('section', { hasText: 'Payload' }).getByTestId('json-view');
    await expect
      .poll(() => view.locator('.json-note').textContent())
      .toMatch(/nested deeper than 20 levels: shown compact/);
    expect(await view.locator('pre').textContent()).toBe(deep);
    // The rest of the page rendered: details, result, and the menu.
    await expect.poll(() => page.locator('section', { hasText: 'Details' }).count()).toBeGreaterThan(0);
    expect(await page.getByRole('navigation', { name: 'Main' }).isVisible()).toBe(true);
    expect(await page.getByTestId('page-error').count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('a page that fails to render says so and keeps the menu; another page renders again', async () => {
    const t = await d.client.enqueue('broken.answer', { ok: true });
    const { page } = d;
    // An answer the page does not expect (metadata null where an object belongs) makes it throw.
    await page.route(`**/api/v1/tasks/${t.id}`, async (route) => {
      const res = await route.fetch();
      const body = await res.json();
      await route.fulfill({ response: res, json: { ...body, metadata: null } });
    });
    const before = errors.length;
    try {
      await page.goto(`${d.url}/tasks/${t.id}`);
      await expect
        .poll(() => page.getByTestId('page-error').textContent())
        .toMatch(/This page could not be shown/);
      expect(await page.getByRole('navigation', { name: 'Main' }).isVisible()).toBe(true);
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tasks' }).click();
      await expect.poll(() => page.locator('[data-testid="task-table"] tbody tr').count()).toBeGreaterThan(0);
      expect(await page.getByTestId('page-error').count()).toBe(0);
    } finally {
      await page.unroute(`**/api/v1/tasks/${t.id}`);
      // The caught render error is the one expected here, not a crash of the page.
      errors.splice(before);
    }
  });
});
