// Seed 000 on Gaffer: npx tsx examples/llm-fanout/main.ts [--failure-rate 0.5] [--seed 1] [--logs]
import { parseArgs } from 'node:util';
import { runDemo } from './demo.js';
import { PROVIDERS, type Provider } from './providers.js';

const { values } = parseArgs({
  options: {
    'failure-rate': { type: 'string', default: '0.5' },
    seed: { type: 'string', default: '1' },
    logs: { type: 'boolean', default: false },
  },
});
const rate = Number(values['failure-rate']);
const rates = Object.fromEntries(PROVIDERS.map((p) => [p, rate])) as Record<Provider, number>;

const out = (s = '') => process.stdout.write(`${s}\n`);
const row = (t: { type: string; status: string; attempt: number; sessionIndex: number | null; id: string }) =>
  `  #${t.sessionIndex} ${t.type.padEnd(15)} ${t.status.padEnd(10)} attempts ${t.attempt}  ${t.id}`;

const report = await runDemo({
  failureRates: rates,
  seed: Number(values.seed),
  onLog: (l) => {
    // Every line about a task carries its session id; --logs shows them as they come.
    if (values.logs && l.event) out(`    log ${JSON.stringify(l)}`);
  },
});

out(`Gaffer server (embedded store) at ${report.url}; provider failure rate ${rate}`);
out(
  `\n1. New request: session ${report.sessionId}, one task per provider (outcomes ${report.first.outcomes}):`,
);
for (const t of report.first.settled) out(row(t));
out(`   session status: ${report.first.session.status}`);
out(`\n2. failed_tasks (Gaffer's dead letters of the session): ${report.failedTasks.length}`);
for (const f of report.failedTasks)
  out(`  ${f.task_id}: "${f.error}", retry_count ${f.retry_count}, failed_at ${f.failed_at}`);
out('\n3. Retry request: the same session id and task ids sent again');
report.retry.sent.forEach((t, i) => {
  out(`  ${t.id.padEnd(50)} -> ${report.retry.outcomes[i]} (status ${t.status})`);
});
out('\n4. After the retry:');
for (const t of report.retry.settled) out(`${row(t)}  handler runs ${report.calls[t.id] ?? 0}`);
out(`   session status: ${report.retry.session.status}`);
