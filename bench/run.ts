/**
 * `npm run bench`: Gaffer side by side with graphile-worker, pg-boss and BullMQ
 * on this machine, in one invocation, so ratios compare runs made minutes apart.
 * See bench/README.md for the scenarios and docs/BENCHMARKS.md for the results.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ChildWorker } from './lib/child-worker.js';
import { parseArgs, USAGE } from './lib/config.js';
import { Child } from './lib/ipc.js';
import { environment, peakRssMb } from './lib/machine.js';
import { aggregate, previousOf, type Results, type RunValues, record } from './lib/results.js';
import {
  type BenchConfig,
  type MetricName,
  type Sample,
  SCALE_SCENARIOS,
  type ScenarioName,
  type SystemName,
} from './lib/types.js';
import { renderMarkdown, renderTables } from './report.js';
import { runScenario, supports } from './scenarios/index.js';
import { loadDriver, type SystemDriver } from './systems/driver.js';

const inv = (() => {
  try {
    return parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
})();
if (inv.help) {
  console.log(USAGE);
  process.exit(0);
}
if (inv.reportOnly) {
  const results = JSON.parse(readFileSync('bench/results/latest.json', 'utf8')) as Results;
  writeFileSync('docs/BENCHMARKS.md', renderMarkdown(results));
  console.log('wrote docs/BENCHMARKS.md from bench/results/latest.json');
  process.exit(0);
}
const { cfg } = inv;

/** Runs a scenario: here with the worker in a child, or entirely in a host child for embedded stores. */
class SystemRunner {
  private host: Child | null = null;
  constructor(readonly driver: SystemDriver) {}

  async run(scenario: ScenarioName): Promise<Sample> {
    if (this.driver.inProcess) {
      if (!this.host) {
        this.host = new Child('host-main.ts', [this.driver.name], { BENCH_CONFIG: JSON.stringify(cfg) });
        await this.host.ready;
      }
      return this.host.call<Sample>('run', scenario);
    }
    const sample = await runScenario(scenario, {
      cfg,
      driver: this.driver,
      makeWorker: () => ChildWorker.start(this.driver, cfg),
      makeFleet: (n) => ChildWorker.start(this.driver, cfg, n),
    });
    const pid = this.driver.serverPid?.();
    const rss = pid ? peakRssMb(pid) : undefined;
    return rss === undefined ? sample : { ...sample, server_peak_rss: rss };
  }

  async close(): Promise<void> {
    if (this.host) await this.host.close();
    await this.driver.dispose().catch(() => {});
  }
}

/** Rewritten after every measurement of a run (not committed). */
const IN_PROGRESS = 'bench/results/in-progress.json';

/**
 * One retry per run: the database server is shared, and a run that fails for a reason outside the
 * system under test (a connection terminated by someone else's fault test) should not leave a hole.
 */
async function runWithRetry(runner: SystemRunner, scenario: ScenarioName, label: string): Promise<Sample> {
  try {
    return await withWatchdog(runner.run(scenario), label, runLimit(scenario));
  } catch (err) {
    console.error(`retrying ${label} once: ${(err as Error).message}`);
    return withWatchdog(runner.run(scenario), label, runLimit(scenario));
  }
}

/**
 * No run may take longer than this; a stuck one fails instead of stalling the whole bench.
 * The scale scenarios seed a million tasks (× --scale) first, so theirs grows with the scale.
 */
const RUN_LIMIT_MS = 300_000;
const SCALE_RUN_LIMIT_MS = 900_000;

function runLimit(scenario: ScenarioName): number {
  return SCALE_SCENARIOS.includes(scenario) ? SCALE_RUN_LIMIT_MS * Math.max(1, cfg.scale) : RUN_LIMIT_MS;
}

function withWatchdog<T>(p: Promise<T>, label: string, limitMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label} took longer than ${limitMs / 1000} s`)), limitMs);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

function fmt(s: Sample): string {
  return Object.entries(s)
    .map(([k, v]) => `${k}=${Math.round((v as number) * 100) / 100}`)
    .join(' ');
}

async function main(): Promise<void> {
  const started = Date.now();
  const env = await environment(cfg.pgUrl, cfg.redisUrl);
  const runners = new Map<SystemName, SystemRunner>();
  const errors: string[] = [];
  for (const name of cfg.systems) {
    try {
      runners.set(name, new SystemRunner(await loadDriver(name, cfg)));
    } catch (err) {
      errors.push(`${name}: not available (${(err as Error).message.split('\n')[0]})`);
      console.error(`skipping ${name}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const values: RunValues = {};
  // Read before anything is written: the figures this run replaces.
  const previous =
    inv.docs && existsSync(inv.out)
      ? previousOf(JSON.parse(readFileSync(inv.out, 'utf8')) as Results)
      : undefined;
  const { pgUrl: _p, redisUrl: _r, ...config } = cfg;
  const results = (): Results => ({
    machine: env.machine as unknown as Record<string, unknown>,
    generatedAt: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    mode: cfg.quick ? 'quick' : inv.docs ? 'full' : 'partial',
    config,
    versions: env.versions,
    postgres: env.postgres,
    systems: Object.fromEntries([...runners].map(([n, r]) => [n, r.driver.config])),
    ...aggregate(values),
    runs: values,
    errors,
    ...(previous ? { previous } : {}),
  });
  mkdirSync(dirname(inv.out), { recursive: true });
  for (let run = 0; run < cfg.runs; run++) {
    for (const scenario of cfg.scenarios) {
      // A million tasks seeded per system: the scale scenarios are measured once, in the first run.
      if (run > 0 && SCALE_SCENARIOS.includes(scenario)) continue;
      // Rotate the order each run so no system always goes first (or after the heaviest).
      const order = [...runners.keys()];
      for (let k = 0; k < run % Math.max(1, order.length); k++) order.push(order.shift()!);
      for (const name of order) {
        if (!supports(scenario, runners.get(name)!.driver)) continue;
        const t0 = Date.now();
        try {
          const sample = await runWithRetry(
            runners.get(name)!,
            scenario,
            `run ${run + 1} ${scenario} ${name}`,
          );
          for (const [metric, v] of Object.entries(sample) as Array<[MetricName, number]>) {
            if (metric === 'server_peak_rss') {
              const prev = values.server_peak_rss?.[name]?.[run];
              record(values, metric, name, run, Math.max(prev ?? 0, v));
            } else record(values, metric, name, run, v);
          }
          console.log(
            `run ${run + 1}/${cfg.runs} ${scenario.padEnd(14)} ${name.padEnd(15)} ${fmt(sample)} (${Date.now() - t0} ms)`,
          );
        } catch (err) {
          const msg = `run ${run + 1} ${scenario} ${name}: ${(err as Error).message}`;
          errors.push(msg);
          console.error(`FAILED ${msg}`);
        }
        // What is measured so far, should a long run be stopped: never read as a finished run.
        writeFileSync(IN_PROGRESS, `${JSON.stringify({ ...results(), mode: 'partial' }, null, 2)}\n`);
      }
    }
  }
  for (const r of runners.values()) await r.close();

  const final = results();
  writeFileSync(inv.out, `${JSON.stringify(final, null, 2)}\n`);
  const md = renderMarkdown(final);
  if (inv.docs) {
    mkdirSync('docs', { recursive: true });
    writeFileSync('docs/BENCHMARKS.md', md);
  }
  console.log(`\n${renderTables(final)}`);
  console.log(
    `wrote ${inv.out}${inv.docs ? ' and docs/BENCHMARKS.md' : ''} in ${Math.round((Date.now() - started) / 1000)} s`,
  );
}

export type { BenchConfig };

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
