/** The scale part of docs/BENCHMARKS.md (issue 18): backlog, history, overview, busy time, idle fleet. */
import { existsSync, readFileSync } from 'node:fs';
import type { Results } from './lib/results.js';
import type { Figure } from './lib/stats.js';
import { type MetricName, SCALE_METRICS, SYSTEMS } from './lib/types.js';

export const SCALE_LABELS: Record<string, string> = {
  backlog_pickup_p50: 'backlog_pickup_p50 (ms)',
  backlog_pickup_p99: 'backlog_pickup_p99 (ms)',
  history_pickup_p50: 'history_pickup_p50 (ms)',
  history_pickup_p99: 'history_pickup_p99 (ms)',
  overview_queued_ms: 'overview_ms, queued (ms)',
  overview_completed_ms: 'overview_ms, completed (ms)',
  stats_api_queued_ms: 'GET /api/v1/stats, queued (ms)',
  stats_api_completed_ms: 'GET /api/v1/stats, completed (ms)',
  busy_idle: 'database busy, idle server (% of a core)',
  busy_dashboard: 'database busy, one dashboard open (% of a core)',
  cpu_idle: 'backend CPU, idle server (% of a core)',
  cpu_dashboard: 'backend CPU, one dashboard open (% of a core)',
  idle_fleet_p50: 'idle_fleet_pickup_p50, large fleet (ms)',
  idle_fleet_p99: 'idle_fleet_pickup_p99, large fleet (ms)',
  fleet10_p50: 'pickup_p50, 10-worker fleet (ms)',
  fleet10_p99: 'pickup_p99, 10-worker fleet (ms)',
  idle_fleet_xact: 'DB transactions/s, large fleet idle',
  fleet10_xact: 'DB transactions/s, 10-worker fleet idle',
};

/** A --scale=10 run of `overview` alone (gaffer), written with --out to this file, shown when present. */
export const OVERVIEW_10X = 'bench/results/overview-10m.json';

export function loadOverview10x(): Results | null {
  return existsSync(OVERVIEW_10X) ? (JSON.parse(readFileSync(OVERVIEW_10X, 'utf8')) as Results) : null;
}

function num(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 100) return String(Math.round(v));
  return String(Math.round(v * 100) / 100);
}

function cell(f: Figure | undefined): string {
  if (!f) return '–';
  return f.runs > 1 ? `${num(f.value)} [${num(f.min)}–${num(f.max)}]` : num(f.value);
}

const fig = (res: Results | null, m: MetricName, s: string) =>
  res?.scenarios[m]?.[s as keyof Results['systems']]?.value;

export function hasScale(res: Results): boolean {
  return SCALE_METRICS.some((m) => res.scenarios[m] && Object.keys(res.scenarios[m]!).length > 0);
}

/** The scale scenarios' description and figures. */
export function renderScaleTables(res: Results): string[] {
  if (!hasScale(res)) return [];
  const c = res.config;
  const n = (c.scaleTotal ?? 1_000_000).toLocaleString('en-US');
  const metrics = SCALE_METRICS.filter((m) => res.scenarios[m] && Object.keys(res.scenarios[m]!).length > 0);
  const systems = SYSTEMS.filter((s) => metrics.some((m) => res.scenarios[m]?.[s]));
  return [
    '## At scale (issue 18)',
    '',
    `Measured once each, in the first run (seeding ${n} tasks per system is not measured). Each PostgreSQL`,
    'database gets a `VACUUM ANALYZE` after seeding (the state autovacuum reaches soon after a bulk load, and no',
    'autovacuum of the seeded rows runs while the figures are taken), then a `CHECKPOINT` (seeding writes more WAL',
    'than `max_wal_size`; the checkpoint it starts would otherwise flush through the probes). How each system is seeded and what its',
    'overview reads are is in its configuration below (`scale`).',
    '',
    `- **backlog_pickup**: ${n} tasks of another type (pg-boss, BullMQ: another queue) waiting; then the pickup probe of the bench's type with a fresh idle worker (${c.pickupTotal} tasks, ${c.pickupGapMs} ms apart), as in pickup.`,
    `- **history_pickup**: ${n} completed tasks of the bench's type in the history, nothing waiting; the same probe.`,
    '- **overview_ms**: the overview reads, one after the other, median of 20 (after one untimed): Gaffer `countTasks({})` + `queueStats()` on the store; pg-boss `getQueueSize` of both queues; BullMQ `getJobCounts()` of both queues; graphile-worker has no count API. `GET /api/v1/stats` is the same overview through a `gaffer serve` (plus live/stale workers).',
    `- **database busy**: with ${n} waiting, a \`gaffer serve\` on the database, left alone ${c.busySeconds} s ("idle server"), then ${c.busySeconds} s with one dashboard open on its overview page in headless Chromium ("one dashboard open"): \`pg_stat_database.active_time\` delta per second, as % of a core (it counts time in statements, CPU or waiting); backend CPU is the CPU time of that database's client backends from \`/proc/<pid>/schedstat\` over the same window.`,
    `- **idle_fleet**: ${c.fleetSize ?? 500} HTTP workers (one child process, each concurrency 1, prefetch 0, so each holds one waiting long-poll claim) against one \`gaffer serve\`, after a fleet of 10 the same way: transactions per second of the database (\`pg_stat_database.xact_commit\` delta) while the fleet sits idle ${c.busySeconds} s, then the pickup probe (any worker may take a task).`,
    '',
    `| At scale | ${systems.join(' | ')} |`,
    `|---|${systems.map(() => '---:').join('|')}|`,
    ...metrics.map(
      (m) => `| ${SCALE_LABELS[m] ?? m} | ${systems.map((s) => cell(res.scenarios[m]?.[s])).join(' | ')} |`,
    ),
    '',
    'Reading these:',
    '',
    "- pg-boss 10 keeps each queue in a partition of its own and BullMQ each queue in keys of its own, so a backlog in another queue costs them nothing by design; pg-boss's pickup is bounded by its 0.5 s poll, backlog or not.",
    '- graphile-worker deletes completed jobs: its history figure is after a million jobs were processed (their dead tuples vacuumed), not with a million kept.',
    "- `active_time` is wall time inside statements, so on this shared 2-core machine it includes waiting for a CPU: an upper reading; the backends' CPU time is the lower one. Backends publish their counters when idle, at most once a second, so each window is read to within about a second of activity.",
    "- Each figure here is one run: on this machine a p99 of one run moves by up to 2× between minutes, so compare figures within this table (same minutes) rather than with another run's.",
    '',
    ...renderOverview10x(),
  ];
}

function renderOverview10x(): string[] {
  const r = loadOverview10x();
  if (!r) return [];
  const total = (r.config.scaleTotal ?? 0).toLocaleString('en-US');
  const rows = (['overview_queued_ms', 'stats_api_queued_ms'] as MetricName[]).filter((m) =>
    fig(r, m, 'gaffer'),
  );
  return [
    `### Overview at ${total} waiting (run once)`,
    '',
    `Generated by \`${r.command}\` on ${r.generatedAt} (\`${OVERVIEW_10X}\`), Gaffer only.`,
    '',
    '| At scale | gaffer |',
    '|---|---:|',
    ...rows.map((m) => `| ${SCALE_LABELS[m]} | ${num(fig(r, m, 'gaffer')!)} |`),
    '',
  ];
}

type Check = [boolean | null, string];

function within(v: number | undefined, base: number | undefined, factor: number): Check {
  if (v === undefined || base === undefined) return [null, 'not measured'];
  const x = v / base;
  return [x <= factor, `${num(v)} ÷ ${num(base)} = ${Math.round(x * 100) / 100}×`];
}

function atMost(v: number | undefined, goal: number, unit: string): Check {
  if (v === undefined) return [null, 'not measured'];
  return [v <= goal, `${num(v)}${unit}`];
}

/** The targets, checked against this run (and the 10M overview file when present). */
export function scaleTargets(res: Results): Array<{ label: string; check: Check }> {
  if (!hasScale(res)) return [];
  const g = (m: MetricName, s = 'gaffer') => fig(res, m, s);
  const ten = loadOverview10x();
  const n = (res.config.scaleTotal ?? 1_000_000).toLocaleString('en-US');
  const dashboardCost =
    g('busy_dashboard') !== undefined && g('busy_idle') !== undefined
      ? g('busy_dashboard')! - g('busy_idle')!
      : undefined;
  return [
    {
      label: 'backlog_pickup_p99: gaffer within 2× of its empty-database pickup_p99',
      check: within(g('backlog_pickup_p99'), g('pickup_p99'), 2),
    },
    {
      label: 'history_pickup_p99: gaffer within 2× of its empty-database pickup_p99',
      check: within(g('history_pickup_p99'), g('pickup_p99'), 2),
    },
    {
      label: 'backlog_pickup_p99: gaffer ≥ 10× below graphile-worker (≤ 0.1×)',
      check: within(g('backlog_pickup_p99'), g('backlog_pickup_p99', 'graphile-worker'), 0.1),
    },
    {
      label: 'history_pickup_p99: gaffer ≥ 10× below graphile-worker (≤ 0.1×)',
      check: within(g('history_pickup_p99'), g('history_pickup_p99', 'graphile-worker'), 0.1),
    },
    {
      label: `overview_ms at ${n} queued: gaffer ≤ 20 ms`,
      check: atMost(g('overview_queued_ms'), 20, ' ms'),
    },
    {
      label: `overview_ms at ${n} completed: gaffer ≤ 20 ms`,
      check: atMost(g('overview_completed_ms'), 20, ' ms'),
    },
    {
      label: `overview_ms at ${ten ? (ten.config.scaleTotal ?? 0).toLocaleString('en-US') : '10M'} queued: gaffer ≤ 20 ms`,
      check: atMost(fig(ten, 'overview_queued_ms', 'gaffer'), 20, ' ms'),
    },
    {
      label: `database busy, idle server at ${n} queued ≤ 5 % of a core`,
      check: atMost(g('busy_idle'), 5, ' %'),
    },
    {
      label: `database busy added by one open dashboard at ${n} queued ≤ 5 % of a core`,
      check: atMost(dashboardCost, 5, ' %'),
    },
    {
      label: 'idle_fleet_pickup_p99: large fleet within 2× of the 10-worker fleet',
      check: within(g('idle_fleet_p99', 'gaffer-http'), g('fleet10_p99', 'gaffer-http'), 2),
    },
    {
      label: 'mixed_p99: gaffer ≤ bullmq',
      check: within(g('mixed_p99'), g('mixed_p99', 'bullmq'), 1),
    },
    ...(['drain', 'bulk_enqueue', 'single_enqueue'] as MetricName[]).map((m) => ({
      label: `${m}: gaffer not below the previously committed figure`,
      check: notWorse(g(m), res.previous?.scenarios[m]?.gaffer, true, res.previous?.generatedAt),
    })),
    {
      label: 'pickup_p99: gaffer not above the previously committed figure',
      check: notWorse(
        g('pickup_p99'),
        res.previous?.scenarios.pickup_p99?.gaffer,
        false,
        res.previous?.generatedAt,
      ),
    },
  ];
}

function notWorse(v: number | undefined, prev: number | undefined, higher: boolean, at?: string): Check {
  if (v === undefined || prev === undefined) return [null, 'not measured'];
  const ok = higher ? v >= prev : v <= prev;
  return [ok, `${num(v)} vs ${num(prev)} (${at?.slice(0, 10) ?? 'before'})`];
}
