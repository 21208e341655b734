import { COMPARISONS } from './config.js';
import { type Figure, median, round, summarize } from './stats.js';
import { type BenchConfig, METRICS, type MetricName, type SystemName, UNITS } from './types.js';

/** Values per metric and system, one slot per run (undefined where a run failed). */
export type RunValues = Partial<Record<MetricName, Partial<Record<SystemName, Array<number | undefined>>>>>;

export interface Ratio {
  value: number;
  min: number;
  max: number;
  runs: number;
}

export interface Results {
  machine: Record<string, unknown>;
  generatedAt: string;
  command: string;
  mode: 'full' | 'quick' | 'partial';
  config: Omit<BenchConfig, 'pgUrl' | 'redisUrl'>;
  versions: Record<string, string>;
  postgres: Record<string, string>;
  systems: Partial<Record<SystemName, Record<string, unknown>>>;
  /** Median [min, max] over the runs, per metric and system. */
  scenarios: Partial<Record<MetricName, Partial<Record<SystemName, Figure>>>>;
  /** `a/b` = a's figure divided by b's, taken per run (same cycle) and summarised like the figures. */
  ratios: Partial<Record<MetricName, Record<string, Ratio>>>;
  runs: RunValues;
  errors: string[];
  /** Gaffer's figures of the results file this one replaced, for "not worse than before". */
  previous?: {
    generatedAt: string;
    command: string;
    scenarios: Partial<Record<MetricName, Partial<Record<SystemName, number>>>>;
  };
}

/** The figures of an earlier results file, kept as `previous` in the one that replaces it. */
export function previousOf(old: Results): NonNullable<Results['previous']> {
  const scenarios: NonNullable<Results['previous']>['scenarios'] = {};
  for (const [metric, bySystem] of Object.entries(old.scenarios) as Array<
    [MetricName, Partial<Record<SystemName, Figure>>]
  >) {
    scenarios[metric] = Object.fromEntries(Object.entries(bySystem).map(([s, f]) => [s, f!.value]));
  }
  return { generatedAt: old.generatedAt, command: old.command, scenarios };
}

export function record(
  values: RunValues,
  metric: MetricName,
  system: SystemName,
  run: number,
  v: number,
): void {
  const bySystem = values[metric] ?? {};
  values[metric] = bySystem;
  const slots = bySystem[system] ?? [];
  bySystem[system] = slots;
  slots[run] = v;
}

export function aggregate(values: RunValues): Pick<Results, 'scenarios' | 'ratios'> {
  const scenarios: Results['scenarios'] = {};
  const ratios: Results['ratios'] = {};
  for (const metric of METRICS) {
    const bySystem = values[metric];
    if (!bySystem) continue;
    const out: Partial<Record<SystemName, Figure>> = {};
    for (const [system, slots] of Object.entries(bySystem) as Array<
      [SystemName, Array<number | undefined>]
    >) {
      const xs = slots.filter((x): x is number => x !== undefined && Number.isFinite(x));
      if (xs.length > 0) out[system] = summarize(xs, UNITS[metric]);
    }
    scenarios[metric] = out;
    const r: Record<string, Ratio> = {};
    for (const [a, b] of COMPARISONS) {
      const va = bySystem[a];
      const vb = bySystem[b];
      if (!va || !vb) continue;
      const per: number[] = [];
      for (let i = 0; i < Math.max(va.length, vb.length); i++) {
        const x = va[i];
        const y = vb[i];
        if (x !== undefined && y !== undefined && y > 0) per.push(x / y);
      }
      if (per.length > 0) {
        r[`${a}/${b}`] = {
          value: round3(median(per)),
          min: round3(Math.min(...per)),
          max: round3(Math.max(...per)),
          runs: per.length,
        };
      }
    }
    if (Object.keys(r).length > 0) ratios[metric] = r;
  }
  return { scenarios, ratios };
}

function round3(v: number): number {
  return Math.abs(v) >= 100 ? round(v) : Math.round(v * 1000) / 1000;
}
