import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dashboard, startDashboard, until } from './harness.js';
import { type Scenario, seedScenario } from './scenario.js';

/** Every page renders the sample workload; filters narrow the lists; a screenshot of each goes to docs/. */
describe('dashboard: pages and filters', () => {
  let d: Dashboard;
  let s: Scenario;
  beforeAll(async () => {
    d = await startDashboard({
      alerts: { rules: { deadLetters: { threshold: 3 }, noLiveWorker: { minAgeMs: 0 } } },
    });
    s = await seedScenario(d);
  }, 90_000);
  afterAll(async () => {
    s?.release();
    await d?.close();
  });

  const rows = (testId: string) => d.page.locator(`[data-testid="${testId}"] tbody tr`);

  it('overview: totals, throughput chart, queues, workers and alerts', async () => {
    const { page } = d;
    await page.goto(d.url);
    // The live feed updates every second; each stat settles on its own update.
    await expect.poll(() => page.getByTestId('stat-dead').textContent()).toBe('4');
    await expect.poll(() => page.getByTestId('stat-running').textContent()).toBe('2');
    await expect.poll(() => page.getByTestId('stat-workers').textContent()).toBe('4');
    expect(await page.locator('.stat', { hasText: 'Workers' }).textContent()).toContain('1 stale');
    const queues = await rows('queue-table').allTextContents();
    expect(queues.map((r) => r.split(/\d/)[0])).toEqual(['email', 'llm', 'reports', 'sim']);
    // The chart is recharts' SVG; the feed samples while the workload finishes, so bars appear.
    await expect
      .poll(() => page.locator('[data-testid="throughput-chart"] .recharts-bar-rectangle').count(), {
        timeout: 15_000,
      })
      .toBeGreaterThan(0);
    // The alert rules (tuned low) see four dead letters and a queue no worker serves.
    await d.server.alerts.evaluate();
    const alerts = page.locator('[data-testid="alerts"] li');
    await expect.poll(() => alerts.count()).toBe(2);
    expect(await alerts.allTextContents()).toEqual([
      expect.stringMatching(/No live worker.*critical/),
      expect.stringMatching(/Dead letters.*warning/),
    ]);
    await d.screenshot('overview');
  });

  it('tasks: lists, filters by status, type, queue, session, key, user and worker, opens by id', async () => {
    const { page } = d;
    await page.goto(`${d.url}/tasks`);
    await expect.poll(() => rows('task-table').count()).toBe(26);
    await d.screenshot('tasks');

    await page.locator('select[name="status"]').selectOption('failed');
    await expect.poll(() => rows('task-table').count()).toBe(4);
    expect(page.url()).toContain('status=failed');
    expect(await rows('task-table').locator('.badge').allTextContents()).toEqual(Array(4).fill('failed'));

    await page.locator('input[name="type"]').fill('email.send');
    await page.locator('input[name="type"]').press('Enter');
    await expect.poll(() => rows('task-table').count()).toBe(3);

    await page.getByRole('button', { name: 'Clear' }).click();
    await expect.poll(() => rows('task-table').count()).toBe(26);

    const filters: [string, string, number][] = [
      ['queue', 'llm', 5],
      ['sessionId', 'study-42', 8],
      ['key', 'cart-991', 4],
      ['userId', 'newsletter', 12],
      ['workerId', s.mailer.id!, 12],
    ];
    for (const [name, value, n] of filters) {
      await page.goto(`${d.url}/tasks`);
      await page.locator(`input[name="${name}"]`).fill(value);
      await page.getByRole('button', { name: 'Apply' }).click();
      await expect.poll(() => rows('task-table').count(), { message: `${name}=${value}` }).toBe(n);
    }

    // The status chips count within the other filters.
    expect(await page.getByTestId('count-completed').textContent()).toBe('9');

    await page.goto(`${d.url}/tasks`);
    await page.getByLabel('Task id').fill(s.bounced[0]!.id);
    await page.getByRole('button', { name: 'Open' }).click();
    await expect
      .poll(() => page.getByTestId('task-error').textContent())
      .toContain('550 mailbox unavailable');
  });

  it('task: payload, result, progress, attempts timeline and event history', async () => {
    const { page } = d;
    const retried = s.study.tasks[3]!;
    await page.goto(`${d.url}/tasks/${retried.id}`);
    const attempts = page.locator('[data-testid="attempts"] li');
    await expect.poll(() => attempts.count()).toBe(2);
    expect(await attempts.nth(0).textContent()).toContain('solver diverged');
    expect(await attempts.nth(1).textContent()).toContain('completed');
    expect(await page.getByTestId('task-progress').textContent()).toContain('100%');
    expect(await page.locator('.card', { hasText: 'Payload' }).locator('pre').textContent()).toContain(
      '"index": 3',
    );
    expect(await page.locator('.card', { hasText: 'Result' }).locator('pre').textContent()).toContain(
      '"cells": 4750',
    );
    const events = await rows('events').locator('td:nth-child(2)').allTextContents();
    expect(events).toEqual([
      'created',
      'claimed',
      'attempt failed',
      'retry scheduled',
      'claimed',
      'completed',
    ]);
    await page.getByText(/Show \d+ progress events/).click();
    await expect.poll(() => rows('events').count()).toBeGreaterThan(6);
    await page.getByText(/Show \d+ progress events/).click();
    await d.screenshot('task');
    // A session link leads back to the session page.
    await page.locator('.details a', { hasText: 'study-42' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toContain('study-42');
  });

  it('task: says what a waiting task waits on, and the tasks list filters by that reason', async () => {
    const { page } = d;
    await page.goto(`${d.url}/tasks`);
    await page.locator('select[name="waitingOn"]').selectOption('no_live_worker');
    await expect.poll(() => rows('task-table').count()).toBe(1);
    expect(page.url()).toContain('waitingOn=no_live_worker');
    await rows('task-table').locator('a').first().click();
    await expect
      .poll(() => page.getByTestId('waiting-on').textContent())
      .toMatch(/no live worker: no live worker takes type "report.render" on queue "reports"/);
    await d.screenshot('task-waiting-on');
  });

  it('dead letters: error and attempt count of each, filter by error text', async () => {
    const { page } = d;
    await page.goto(`${d.url}/dead-letters`);
    await expect.poll(() => rows('dead-letter-table').count()).toBe(4);
    const flaky = rows('dead-letter-table').filter({ hasText: 'upstream 503' });
    expect(await flaky.locator('td.num').textContent()).toBe('2');
    expect(await page.getByRole('button', { name: /Retry all \(4\)/ }).isVisible()).toBe(true);
    await d.screenshot('dead-letters');
    await page.locator('input[name="errorContains"]').fill('550 mailbox');
    await page.locator('input[name="errorContains"]').press('Enter');
    await expect.poll(() => rows('dead-letter-table').count()).toBe(3);
    await expect.poll(() => page.getByRole('button', { name: /Retry all matching \(3\)/ }).count()).toBe(1);
  });

  it('sessions: by key and status with progress; a session lists its tasks by index with their workers', async () => {
    const { page } = d;
    await page.goto(`${d.url}/sessions`);
    await expect.poll(() => rows('session-table').count()).toBe(2);
    expect(await rows('session-table').filter({ hasText: 'cart-991' }).locator('.badge').textContent()).toBe(
      'completed',
    );
    expect(
      await rows('session-table').filter({ hasText: 'study-42' }).locator('.progress').textContent(),
    ).toContain('75%');
    await d.screenshot('sessions');

    await page.locator('input[name="key"]').fill('cart-991');
    await page.locator('input[name="key"]').press('Enter');
    await expect.poll(() => rows('session-table').count()).toBe(1);
    await page.locator('select[name="status"]').selectOption('active');
    await expect.poll(() => page.getByText('No sessions match').count()).toBe(1);

    await page.goto(`${d.url}/sessions/study-42`);
    const tasks = rows('session-tasks');
    await expect.poll(() => tasks.count()).toBe(8);
    const indexes = await Promise.all(
      [...Array(8).keys()].map((i) => tasks.nth(i).getAttribute('data-index')),
    );
    expect(indexes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    const running = tasks.filter({ hasText: 'running' });
    expect(await running.count()).toBe(2);
    expect(await tasks.nth(5).locator('.progress').textContent()).toContain('40%');
    expect(await tasks.nth(6).locator('.progress').textContent()).toContain('70%');
    // Each task links to the worker that holds it (running) or last ran it.
    const held = await d.store.getTask(s.study.tasks[5]!.id);
    await d.screenshot('session');
    await tasks.nth(5).locator(`a[href="/workers/${held.workerId}"]`).click();
    await expect.poll(() => page.locator('h1').textContent()).toContain(held.workerId!);
  });

  it('workers: live fleet with machines; a worker page with state, events, tasks and totals', async () => {
    const { page } = d;
    await page.goto(`${d.url}/workers`);
    await expect.poll(() => rows('worker-table').count()).toBe(4);
    const machines = await rows('worker-table').locator('.machine').allTextContents();
    expect(machines.sort()).toEqual(['gpu-01', 'lab-pc-01', 'lab-pc-02', 'mail-01']);
    await page.getByLabel('Show stale').check();
    await expect.poll(() => rows('worker-table').count()).toBe(5);
    await d.screenshot('workers');

    const w = s.simWorkers[0]!;
    await until(async () => ((await d.store.getWorker(w.id!)).stats?.processed ?? 0) > 0);
    await page.goto(`${d.url}/workers/${w.id}`);
    await expect.poll(() => page.locator('.page-sub').textContent()).toContain('lab-pc-01');
    expect(Number(await page.getByTestId('worker-processed').textContent())).toBeGreaterThan(0);
    expect(await page.locator('.stat', { hasText: 'Success rate' }).textContent()).toMatch(/\d+(\.\d)?%/);
    expect(await page.locator('.stat', { hasText: 'Uptime' }).textContent()).toMatch(/\d+s/);
    expect(await page.locator('.card', { hasText: 'State' }).locator('pre').textContent()).toContain(
      'running assignment',
    );
    expect(await page.getByTestId('worker-events').textContent()).toContain('registered');
    expect(
      await page.locator('.card', { hasText: 'Recent tasks' }).locator('tbody tr').count(),
    ).toBeGreaterThan(0);
    await d.screenshot('worker');
  });

  it('workers: a fleet past one page loads more on demand, its size counted whole', async () => {
    const { page } = d;
    const extra: string[] = [];
    for (let i = 0; i < 60; i++) extra.push((await d.store.registerWorker({ machineId: `fleet-${i}` })).id);
    try {
      await page.goto(`${d.url}/workers`);
      // 4 live workers of the sample workload and 60 more: one page of 50 shown, 64 counted.
      await expect.poll(() => rows('worker-table').count()).toBe(50);
      await expect.poll(() => page.locator('.page-sub').textContent()).toContain('64 live');
      await page.getByRole('button', { name: 'Load more' }).click();
      await expect.poll(() => rows('worker-table').count()).toBe(64);
      expect(await page.getByRole('button', { name: 'Load more' }).count()).toBe(0);
    } finally {
      for (const id of extra) await d.store.deleteWorker(id);
    }
  });
});
