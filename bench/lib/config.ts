import {
  type BenchConfig,
  DEFAULT_SCENARIOS,
  SCENARIOS,
  type ScenarioName,
  SYSTEMS,
  type SystemName,
} from './types.js';

const FULL = {
  runs: 3,
  bulkTotal: 20_000,
  bulkBatch: 1_000,
  singleTotal: 2_000,
  drainTotal: 20_000,
  pickupTotal: 500,
  pickupGapMs: 20,
  mixedRate: 1_000,
  mixedSeconds: 10,
  busySeconds: 20,
};

/** Tasks waiting or completed in the scale scenarios at --scale=1. */
export const SCALE_BASE = 1_000_000;

/** --quick: the same scenarios with smaller counts and one run, under two minutes in all. */
const QUICK = {
  runs: 1,
  bulkTotal: 5_000,
  bulkBatch: 1_000,
  singleTotal: 200,
  drainTotal: 5_000,
  pickupTotal: 60,
  pickupGapMs: 20,
  mixedRate: 1_000,
  mixedSeconds: 2,
  busySeconds: 5,
};

export const USAGE = `usage: npm run bench -- [--quick] [--runs=N] [--only=gaffer,bullmq] [--scenarios=drain,pickup]
  [--report (only rebuild docs/BENCHMARKS.md from bench/results/latest.json)]
  [--concurrency=50] [--gaffer-prefetch=950] [--drain=20000] [--mixed-rate=1000] [--out=bench/results/latest.json] [--no-docs]
  [--scale=1 (multiplier on the 1M tasks of backlog, history and overview, e.g. 0.01 for a quick check)]
  [--busy-seconds=20] [--fleet=500]
systems:   ${SYSTEMS.join(', ')}
scenarios: ${SCENARIOS.join(', ')} (overview only when named: the 10M run is --scale=10 --scenarios=overview)
env: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres), BENCH_REDIS_URL (default redis://127.0.0.1:6379),
     BENCH_CHILD_NODE_ARGS (node flags for the worker children, e.g. "--cpu-prof --cpu-prof-dir=bench/prof")`;

const FLAGS = [
  'quick',
  'runs',
  'only',
  'scenarios',
  'report',
  'concurrency',
  'gaffer-prefetch',
  'drain',
  'mixed-rate',
  'out',
  'no-docs',
  'scale',
  'busy-seconds',
  'fleet',
  'help',
];

export interface Invocation {
  cfg: BenchConfig;
  /** Where the results go; a full run of everything writes latest.json and the docs. */
  out: string;
  docs: boolean;
  help: boolean;
  /** Only rebuild docs/BENCHMARKS.md from bench/results/latest.json (after editing the notes). */
  reportOnly: boolean;
}

function list<T extends string>(value: string, allowed: readonly T[], what: string): T[] {
  const names = value.split(',').filter(Boolean);
  for (const n of names) {
    if (!allowed.includes(n as T)) throw new Error(`unknown ${what} "${n}"; one of: ${allowed.join(', ')}`);
  }
  return allowed.filter((a) => names.includes(a));
}

export function parseArgs(argv: string[]): Invocation {
  const flags = new Map<string, string>();
  for (const a of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    // An unknown flag must stop the run: ignored, it would start the full (half-hour) benchmark.
    if (!m || !FLAGS.includes(m[1]!)) throw new Error(`unexpected argument ${a}\n${USAGE}`);
    flags.set(m[1]!, m[2] ?? 'true');
  }
  const quick = flags.has('quick');
  const base = quick ? QUICK : FULL;
  const num = (k: string, d: number) => (flags.has(k) ? Number.parseInt(flags.get(k)!, 10) : d);
  const systems = flags.has('only') ? list(flags.get('only')!, SYSTEMS, 'system') : [...SYSTEMS];
  const scenarios: ScenarioName[] = flags.has('scenarios')
    ? list(flags.get('scenarios')!, SCENARIOS, 'scenario')
    : [...DEFAULT_SCENARIOS];
  const scale = flags.has('scale') ? Number(flags.get('scale')) : 1;
  if (!Number.isFinite(scale) || scale <= 0) throw new Error(`--scale must be a positive number\n${USAGE}`);
  const cfg: BenchConfig = {
    quick,
    runs: num('runs', base.runs),
    systems,
    scenarios,
    concurrency: num('concurrency', 50),
    gafferPrefetch: num('gaffer-prefetch', 950),
    bulkTotal: base.bulkTotal,
    bulkBatch: base.bulkBatch,
    singleTotal: base.singleTotal,
    drainTotal: num('drain', base.drainTotal),
    pickupTotal: base.pickupTotal,
    pickupGapMs: base.pickupGapMs,
    mixedRate: num('mixed-rate', base.mixedRate),
    mixedSeconds: base.mixedSeconds,
    scale,
    scaleTotal: Math.max(1, Math.round(SCALE_BASE * scale)),
    busySeconds: num('busy-seconds', base.busySeconds),
    fleetSize: num('fleet', 500),
    pgUrl: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  };
  const complete =
    !quick &&
    scale === 1 &&
    systems.length === SYSTEMS.length &&
    DEFAULT_SCENARIOS.every((s) => scenarios.includes(s));
  const out = flags.get('out') ?? (complete ? 'bench/results/latest.json' : 'bench/results/partial.json');
  return {
    cfg,
    out,
    docs: complete && !flags.has('no-docs'),
    help: flags.has('help'),
    reportOnly: flags.has('report'),
  };
}

/** Systems a system is compared against in the ratios: Gaffer against every peer, gaffer-http against gaffer. */
export const COMPARISONS: Array<[SystemName, SystemName]> = [
  ['gaffer', 'graphile-worker'],
  ['gaffer', 'pg-boss'],
  ['gaffer', 'bullmq'],
  ['gaffer-http', 'gaffer'],
  ['gaffer-pglite', 'gaffer'],
];
