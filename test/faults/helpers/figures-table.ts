import { readFileSync, writeFileSync } from 'node:fs';

export interface ScenarioFigures {
  /** Scenario number in issue 7 ("1", "6b", ...); sorts the table. */
  id: string;
  title: string;
  store: string;
  figures: Record<string, number | string | boolean>;
  bound: string;
  pass: boolean;
  at: string;
}

const BEGIN = '<!-- fault-figures:begin -->';
const END = '<!-- fault-figures:end -->';

function sortKey(id: string): [number, string] {
  const m = /^(\d+)(.*)$/.exec(id);
  return m ? [Number(m[1]), m[2] ?? ''] : [999, id];
}

function cell(v: string): string {
  return v.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

/** The markdown table of a run's figures, one row per scenario. */
export function renderTable(rows: ScenarioFigures[]): string {
  const sorted = [...rows].sort((a, b) => {
    const [na, sa] = sortKey(a.id);
    const [nb, sb] = sortKey(b.id);
    return na - nb || sa.localeCompare(sb);
  });
  const lines = [
    '| # | scenario | store | figures | bound asserted | result |',
    '|---|---|---|---|---|---|',
    ...sorted.map((r) => {
      const figs = Object.entries(r.figures)
        .map(([k, v]) => `${k} ${typeof v === 'number' ? formatNumber(v) : String(v)}`)
        .join(', ');
      return `| ${r.id} | ${cell(r.title)} | ${r.store} | ${cell(figs)} | ${cell(r.bound)} | ${r.pass ? 'pass' : '**FAIL**'} |`;
    }),
  ];
  const at = sorted.map((r) => r.at).sort();
  if (at.length > 0) lines.push('', `Run of ${at[0]!.slice(0, 16).replace('T', ' ')} UTC.`);
  return lines.join('\n');
}

function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** Replaces the figures table in docs/RELIABILITY.md (between its markers). */
export function updateReliabilityDoc(table: string, path = 'docs/RELIABILITY.md'): void {
  const doc = readFileSync(path, 'utf8');
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${path} has no ${BEGIN} … ${END} markers`);
  writeFileSync(path, `${doc.slice(0, start + BEGIN.length)}\n${table}\n${doc.slice(end)}`);
}
