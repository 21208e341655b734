import { existsSync, readFileSync } from 'node:fs';
import { COMPARISONS } from './lib/config.js';
import type { Results } from './lib/results.js';
import type { Figure } from './lib/stats.js';
import { HIGHER_IS_BETTER, METRICS, type MetricName, SCALE_METRICS, SYSTEMS } from './lib/types.js';
import { renderScaleTables, SCALE_LABELS, scaleTargets } from './report-scale.js';

const LABELS: Record<MetricName, string> = {
  ...(SCALE_LABELS as Record<MetricName, string>),
  bulk_enqueue: 'bulk_enqueue (tasks/s)',
  single_enqueue: 'single_enqueue (tasks/s)',
  drain: 'drain (tasks/s)',
  pickup_p50: 'pickup_p50 (ms)',
  pickup_p99: 'pickup_p99 (ms)',
  mixed_rate: 'mixed_rate (tasks/s)',
  mixed_p99: 'mixed_p99 (ms)',
  server_peak_rss: 'server_peak_rss (MB)',
  drain_cpu_worker: 'drain CPU, worker (µs/task)',
  drain_cpu_store: 'drain CPU, store (µs/task)',
  drain_limited: 'drain_limited (tasks/s)',
  drain_limited_peak: 'drain_limited: most running at once',
  drain_limited_key_overlaps: 'drain_limited: overlapping pairs of one key',
  rate_limited_rate: 'rate_limited: starts/s (limit 500)',
  rate_limited_max_second: 'rate_limited: most starts in any second',
  dag_ms: 'dag: first create to last completion (ms)',
  dag_cpu_store: 'dag CPU, store (µs/task)',
};

/** Hand-written notes (what was tried, what limits the rest), included in the generated page. */
const NOTES = new URL('./optimizations.md', import.meta.url);

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

function ratio(r: { value: number; min: number; max: number; runs: number } | undefined): string {
  if (!r) return '–';
  const x = (v: number) => `${Math.round(v * 100) / 100}×`;
  return r.runs > 1 ? `${x(r.value)} [${x(r.min)}–${x(r.max)}]` : x(r.value);
}

/** The figures and ratio tables (also printed at the end of a run); the scale figures after them. */
export function renderTables(res: Results): string {
  const metrics = METRICS.filter(
    (m) => !SCALE_METRICS.includes(m) && res.scenarios[m] && Object.keys(res.scenarios[m]!).length > 0,
  );
  const systems = SYSTEMS.filter((s) => metrics.some((m) => res.scenarios[m]?.[s]));
  const lines = [
    '## Results',
    '',
    `Median [min–max] of ${res.config.runs} run(s) each.`,
    '',
    `| Scenario | ${systems.join(' | ')} |`,
    `|---|${systems.map(() => '---:').join('|')}|`,
    ...metrics.map(
      (m) => `| ${LABELS[m]} | ${systems.map((s) => cell(res.scenarios[m]?.[s])).join(' | ')} |`,
    ),
    '',
    '## Ratios',
    '',
    'Each ratio is `a ÷ b`, computed per run from figures measured in the same cycle, then summarised as',
    'median [min–max]. For rates higher is better for `a`; for latencies and memory lower is better for `a`.',
    '',
  ];
  const pairs = COMPARISONS.map(([a, b]) => `${a}/${b}`).filter((p) =>
    metrics.some((m) => res.ratios[m]?.[p]),
  );
  if (pairs.length > 0) {
    lines.push(
      `| Scenario | ${pairs.map((p) => p.replace('/', ' ÷ ')).join(' | ')} |`,
      `|---|${pairs.map(() => '---:').join('|')}|`,
      ...metrics
        .filter((m) => pairs.some((p) => res.ratios[m]?.[p]))
        .map((m) => {
          const dir = HIGHER_IS_BETTER[m] ? '↑' : '↓';
          return `| ${LABELS[m]} ${dir} | ${pairs.map((p) => ratio(res.ratios[m]?.[p])).join(' | ')} |`;
        }),
      '',
    );
  }
  lines.push(...renderScaleTables(res));
  return lines.join('\n');
}

interface Target {
  label: string;
  check: (res: Results) => [boolean | null, string];
}

const fig = (res: Results, m: MetricName, s: string) =>
  res.scenarios[m]?.[s as keyof Results['systems']]?.value;
const rat = (res: Results, m: MetricName, p: string) => res.ratios[m]?.[p]?.value;

function atLeast(v: number | undefined, goal: number, unit = '×'): [boolean | null, string] {
  if (v === undefined) return [null, 'not measured'];
  return [v >= goal, `${num(v)}${unit}`];
}
function atMost(v: number | undefined, goal: number, unit = '×'): [boolean | null, string] {
  if (v === undefined) return [null, 'not measured'];
  return [v <= goal, `${num(v)}${unit}`];
}

const TARGETS: Target[] = [
  {
    label: 'drain: gaffer ≥ 2× graphile-worker',
    check: (r) => atLeast(rat(r, 'drain', 'gaffer/graphile-worker'), 2),
  },
  { label: 'drain: gaffer ≥ 1× bullmq', check: (r) => atLeast(rat(r, 'drain', 'gaffer/bullmq'), 1) },
  {
    label: 'drain: gaffer-http ≥ 0.5× gaffer',
    check: (r) => atLeast(rat(r, 'drain', 'gaffer-http/gaffer'), 0.5),
  },
  {
    label: 'drain: gaffer-pglite ≥ 2,000 tasks/s',
    check: (r) => atLeast(fig(r, 'drain', 'gaffer-pglite'), 2000, ' tasks/s'),
  },
  { label: 'pickup_p99: gaffer ≤ 5 ms', check: (r) => atMost(fig(r, 'pickup_p99', 'gaffer'), 5, ' ms') },
  {
    label: 'pickup_p99: gaffer-http within 2× of gaffer',
    check: (r) => atMost(rat(r, 'pickup_p99', 'gaffer-http/gaffer'), 2),
  },
  {
    label: 'bulk_enqueue: gaffer ≥ graphile-worker addJobs',
    check: (r) => atLeast(rat(r, 'bulk_enqueue', 'gaffer/graphile-worker'), 1),
  },
  {
    label: 'drain_limited: never more than 20 running',
    check: (r) => atMost(fig(r, 'drain_limited_peak', 'gaffer'), 20, ''),
  },
  {
    label: 'drain_limited: no two tasks of one key at once',
    check: (r) => atMost(fig(r, 'drain_limited_key_overlaps', 'gaffer'), 0, ' pairs'),
  },
  {
    label: 'rate_limited: achieved rate within 5 % of 500/s',
    check: (r) => {
      const v = fig(r, 'rate_limited_rate', 'gaffer');
      return v === undefined ? [null, 'not measured'] : [Math.abs(v - 500) <= 25, `${num(v)}/s`];
    },
  },
  {
    label: 'rate_limited: no second above 500 starts',
    check: (r) => atMost(fig(r, 'rate_limited_max_second', 'gaffer'), 500, ' starts'),
  },
];

function section(title: string, obj: Record<string, unknown>): string[] {
  return [
    `## ${title}`,
    '',
    '| Name | Value |',
    '|---|---|',
    ...Object.entries(obj).map(([k, v]) => `| ${k} | ${String(v)} |`),
    '',
  ];
}

/** docs/BENCHMARKS.md, generated from bench/results/latest.json. */
export function renderMarkdown(res: Results): string {
  const c = res.config;
  const lines = [
    '# Benchmarks',
    '',
    `Generated by \`${res.command}\` on ${res.generatedAt} (${res.mode} run) from \`bench/results/latest.json\`;`,
    'do not edit by hand: edit `bench/report.ts` or `bench/optimizations.md`, then `npm run bench -- --report`.',
    '',
    'Every system runs the same no-op handler with the same counts and concurrency, on this one machine, in one',
    'invocation. Each PostgreSQL system has its own database on the same server (dropped and re-created before',
    'every scenario run); BullMQ uses the local Redis. Workers run in a child process of their own ("one worker',
    'process"); gaffer-pglite runs store, producer and worker in one process, as an embedded app would.',
    '',
    '### Scenarios',
    '',
    `- **bulk_enqueue**: ${c.bulkTotal.toLocaleString('en-US')} tasks in bulk calls of ${c.bulkBatch.toLocaleString('en-US')}, one call after another.`,
    `- **single_enqueue**: ${c.singleTotal.toLocaleString('en-US')} creates, each awaited before the next.`,
    `- **drain**: ${c.drainTotal.toLocaleString('en-US')} tasks created first; the clock runs from the worker's start to the moment the store shows all of them completed (polled every 2 ms on a separate connection; the count is verified exactly).`,
    `- **pickup_p50 / pickup_p99**: an idle worker; ${c.pickupTotal} tasks created one at a time, ${c.pickupGapMs} ms apart; latency from just before the create call to the start of the handler.`,
    `- **mixed**: a producer issuing single creates at ${c.mixedRate.toLocaleString('en-US')} tasks/s (every 10 ms, not waiting for earlier ones, at most 50 in flight) for ${c.mixedSeconds} s while the worker runs; sustained rate = tasks ÷ (first create to last durable completion), and p99 of the pickup latency.`,
    `- **server_peak_rss**: the peak resident memory (VmHWM) of the \`gaffer serve\` process in any scenario of a run (gaffer-http only).`,
    `- **drain_limited**: ${c.drainTotal.toLocaleString('en-US')} tasks over 1,000 concurrency keys, at most 1 running per key and 20 in the queue (Gaffer only); afterwards the moments tasks started and stopped running, as a row trigger in the bench database logged them (clock time inside each statement), give the most running at once and the pairs of one key that overlapped.`,
    `- **rate_limited**: a limit of 500 starts per second on the queue over a backlog of ${c.quick ? '2,000' : '3,500'}; the achieved starts per whole second and the most starts in any sliding second (Gaffer only).`,
    `- **dag**: ${Math.floor(c.drainTotal / 20).toLocaleString('en-US')} sessions of 20 tasks in a diamond (one task, 18 after it, one after all 18), created by ten concurrent callers while one worker process runs them; time from the first create to the last durable completion, and the database's CPU per task (Gaffer only).`,
    `- Concurrency ${c.concurrency} for every worker that has the notion; pg-boss uses batch handlers instead (see its configuration).`,
    '',
    renderTables(res),
    '## Targets',
    '',
    '| Target | Measured (median) | Met |',
    '|---|---:|:---:|',
    ...[...TARGETS.map((t) => ({ label: t.label, check: t.check(res) })), ...scaleTargets(res)].map(
      ({ label, check: [ok, shown] }) => `| ${label} | ${shown} | ${ok === null ? '–' : ok ? 'yes' : 'no'} |`,
    ),
    '',
    ...section('Machine', res.machine),
    ...section('Versions', res.versions),
    '## PostgreSQL settings',
    '',
    'Read from the server with `SHOW` at the start of the run. Gaffer keeps `synchronous_commit = on` and only',
    'logged tables: every acknowledged create, completion and failure is flushed to the WAL before it is answered.',
    'Claims and heartbeats commit asynchronously (their loss in a crash re-runs a task; docs/RELIABILITY.md).',
    '',
    '| Setting | Value |',
    '|---|---|',
    ...Object.entries(res.postgres).map(([k, v]) => `| ${k} | ${v} |`),
    '',
    '## Configurations',
    '',
    ...Object.entries(res.systems).flatMap(([name, conf]) => [`- **${name}**: \`${JSON.stringify(conf)}\``]),
    '',
  ];
  if (res.errors.length > 0) lines.push('## Errors in this run', '', ...res.errors.map((e) => `- ${e}`), '');
  if (existsSync(NOTES)) lines.push(readFileSync(NOTES, 'utf8').trim(), '');
  return lines.join('\n');
}
