import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EVENT_LEVELS } from '../../src/engine/event-log.js';
import { GafferMetrics } from '../../src/engine/metrics.js';

const doc = (name: string) => readFileSync(new URL(`../../docs/${name}`, import.meta.url), 'utf8');

const registered = new Set(
  new GafferMetrics({ onEvent: () => () => {}, metricsSnapshot: async () => ({}) as never }).registry
    .getMetricsAsArray()
    .map((m) => m.name),
);

/** A histogram's series are name_bucket, name_sum and name_count. */
function known(name: string): boolean {
  return registered.has(name) || registered.has(name.replace(/_(bucket|sum|count)$/, ''));
}

describe('the shipped dashboards and rules match the metric names', () => {
  it.each(['grafana-dashboard.json', 'prometheus-alerts.yml'])(
    '%s uses only metrics Gaffer exports',
    (file) => {
      const text = doc(file);
      const used = new Set(text.match(/gaffer_[a-z_]+/g) ?? []);
      expect(used.size).toBeGreaterThan(5);
      expect([...used].filter((n) => !known(n))).toEqual([]);
    },
  );

  it('the Grafana dashboard is valid JSON with a panel per area', () => {
    const d = JSON.parse(doc('grafana-dashboard.json'));
    const titles = d.panels.map((p: { title: string }) => p.title);
    expect(titles).toEqual(expect.arrayContaining(['Dead letters', 'Pickup latency (runnable → claimed)']));
    for (const p of d.panels.filter((x: { type: string }) => x.type !== 'row'))
      expect(p.targets.length).toBeGreaterThan(0);
  });

  it('OBSERVABILITY.md documents every metric and every store event', () => {
    const text = doc('OBSERVABILITY.md');
    for (const name of registered) expect(text, name).toContain(`\`${name}\``);
    for (const event of Object.keys(EVENT_LEVELS)) expect(text, event).toContain(`\`${event}\``);
  });
});
