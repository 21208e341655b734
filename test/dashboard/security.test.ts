import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dashboard, startDashboard } from './harness.js';

/**
 * Issue 17, items 11–13 in Chromium: the dashboard and the API docs work under the CSP (no
 * inline script, nothing refused), the dashboard's writes pass the auth-off guard, and the docs
 * page takes a token with auth on.
 */
function watch(page: Page): string[] {
  const refused: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) refused.push(m.text());
  });
  page.on('pageerror', (e) => refused.push(`page error: ${e.message}`));
  return refused;
}

describe('dashboard under the CSP, auth off', () => {
  let d: Dashboard;
  beforeAll(async () => {
    d = await startDashboard();
    await d.client.enqueue('sec.task', { n: 1 }, { id: 'sec-1' });
  });
  afterAll(async () => {
    await d?.close();
  });

  it('renders with nothing refused, and its body-less writes (cancel) pass the guard', async () => {
    const refused = watch(d.page);
    const res = await d.page.goto(`${d.url}/tasks/sec-1`);
    expect(res?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    await d.page.getByRole('button', { name: 'Cancel' }).click();
    await d.page.getByRole('dialog').getByRole('button', { name: 'Cancel task' }).click();
    await expect.poll(async () => (await d.store.getTask('sec-1')).status).toBe('cancelled');
    expect(refused).toEqual([]);
  });
});

describe('API docs under the CSP, auth on', () => {
  let d: Dashboard;
  let secret: string;
  beforeAll(async () => {
    d = await startDashboard({ auth: true });
    secret = (await d.store.createToken({ name: 'docs', role: 'producer' })).token;
  });
  afterAll(async () => {
    await d?.close();
  });

  it('asks for a token, then shows every operation; nothing refused by the CSP', async () => {
    const page = await d.context.newPage();
    const refused = watch(page);
    await page.goto(`${d.url}/api/docs`);
    await expect.poll(() => page.getByLabel('API token').count()).toBe(1);
    await page.getByLabel('API token').fill(secret);
    await page.getByRole('button', { name: 'Use token' }).click();
    await expect.poll(() => page.locator('.opblock').count()).toBeGreaterThan(20);
    await expect.poll(() => page.getByRole('button', { name: 'Forget token' }).count()).toBe(1);
    // swagger-ui's own Authorize (the bearer scheme) is there for "Try it out".
    expect(await page.locator('.btn.authorize').count()).toBe(1);
    expect(refused).toEqual([]);
    await page.close();
  });
});
