import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { ScenarioFigures } from './figures-table.js';

/**
 * Prints a scenario's figures and records them for the run's table (the global
 * teardown prints it and, with GAFFER_FAULTS_UPDATE_DOCS=1, writes it into
 * docs/RELIABILITY.md). Call before asserting, so a failing run still shows its numbers.
 */
export function report(r: Omit<ScenarioFigures, 'at'>): void {
  const row: ScenarioFigures = { ...r, at: new Date().toISOString() };
  const figs = Object.entries(r.figures)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  process.stdout.write(
    `[faults] #${r.id} ${r.title} (${r.store}): ${figs} | bound: ${r.bound} | ${r.pass ? 'PASS' : 'FAIL'}\n`,
  );
  writeFileSync(join(inject('faultsResultsDir'), `${r.id}-${r.store}.json`), JSON.stringify(row, null, 2));
}

/** Seconds with two decimals. */
export function secs(ms: number): number {
  return Math.round(ms / 10) / 100;
}
