import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dashboard, startDashboard, until } from './harness.js';

/** The Schedules page: every schedule with its next run times, ticking live, paused and resumed by a click. */
describe('dashboard: schedules', () => {
  let d: Dashboard;
  beforeAll(async () => {
    d = await startDashboard();
    await d.client.schedules.upsert('nightly-report', {
      cron: '0 2 * * *',
      timezone: 'Europe/Berlin',
      type: 'report.build',
      task: { queue: 'reports' },
    });
    await d.client.schedules.upsert('heartbeat-ping', {
      everyMs: 500,
      type: 'ping',
      task: { queue: 'pings' },
    });
  });
  afterAll(async () => {
    await d?.close();
  });

  it('lists schedules with next run times, and pauses and resumes one', async () => {
    const { page } = d;
    await page.goto(`${d.url}/schedules`);
    const nightly = page.locator('tr[data-schedule="nightly-report"]');
    const ping = page.locator('tr[data-schedule="heartbeat-ping"]');
    await expect.poll(() => nightly.count()).toBe(1);
    expect(await nightly.textContent()).toContain('cron 0 2 * * * (Europe/Berlin)');
    const next = (await d.store.getSchedule('nightly-report')).nextRunAt!;
    expect(await nightly.getByTestId('next-run').locator('span').getAttribute('title')).toBe(
      next.toISOString(),
    );
    expect(await nightly.getByTestId('next-run').textContent()).toMatch(/in \d+/);
    // The runs after the next one.
    expect(await nightly.getByTestId('upcoming').locator('div').count()).toBe(3);
    expect(await ping.textContent()).toContain('every');

    // The interval schedule ticks through the server's scheduler; the page follows (it polls).
    await until(async () => (await d.store.getSchedule('heartbeat-ping')).runs >= 2);
    await expect
      .poll(async () => Number(await ping.locator('td.num').first().textContent()))
      .toBeGreaterThanOrEqual(2);
    await d.screenshot('schedules');

    await ping.getByRole('button', { name: 'Pause' }).click();
    await until(async () => (await d.store.getSchedule('heartbeat-ping')).paused);
    await expect.poll(() => ping.getByTestId('schedule-state').textContent()).toBe('paused');
    const runsPaused = (await d.store.getSchedule('heartbeat-ping')).runs;
    expect(await ping.getByTestId('next-run').textContent()).toBe('—');

    await ping.getByRole('button', { name: 'Resume' }).click();
    await until(async () => !(await d.store.getSchedule('heartbeat-ping')).paused);
    await expect.poll(() => ping.getByTestId('schedule-state').textContent()).toBe('active');
    await until(async () => (await d.store.getSchedule('heartbeat-ping')).runs > runsPaused);
    const events = (await d.store.getScheduleEvents('heartbeat-ping')).map((e) => e.kind);
    expect(events.slice(0, 2)).toEqual(['resumed', 'paused']);
  });
});
