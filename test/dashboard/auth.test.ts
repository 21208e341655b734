import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dashboard, startDashboard } from './harness.js';

describe('dashboard: with auth on', () => {
  let d: Dashboard;
  let secret: string;
  beforeAll(async () => {
    d = await startDashboard({ auth: true });
    secret = (await d.store.createToken({ name: 'ops', role: 'admin' })).token;
    await d.client.enqueue('report.render', { id: 1 });
  });
  afterAll(async () => {
    await d?.close();
  });

  it('asks for a token, refuses a wrong one, and shows live data with the right one', async () => {
    const { page } = d;
    await page.goto(`${d.url}/tasks`);
    await expect.poll(() => page.getByRole('heading', { name: 'Sign in' }).count()).toBe(1);
    await d.screenshot('login');

    await page.getByLabel('API token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/unknown or revoked/);

    await page.getByLabel('API token').fill(secret);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('[data-testid="task-table"] tbody tr').count()).toBe(1);
    // The live stream sends the token too (fetch streaming with the Authorization header).
    await expect.poll(() => page.getByTestId('live-status').textContent()).toBe('Live');
    expect(await page.evaluate('sessionStorage.getItem("gaffer.token")')).toBe(secret);

    // The token lives in this tab's sessionStorage: a reload stays signed in.
    await page.reload();
    await expect.poll(() => page.locator('[data-testid="task-table"] tbody tr').count()).toBe(1);

    await page.getByRole('button', { name: 'Log out' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Sign in' }).count()).toBe(1);
    expect(await page.evaluate('sessionStorage.getItem("gaffer.token")')).toBeNull();
  });

  it('keeps the API closed to callers without a token', async () => {
    expect((await fetch(`${d.url}/api/v1/stats`)).status).toBe(401);
    expect((await fetch(`${d.url}/api/v1/live`)).status).toBe(401);
    // The page itself is public: it holds no data, only the sign-in form.
    expect((await fetch(`${d.url}/workers`)).status).toBe(200);
  });
});
