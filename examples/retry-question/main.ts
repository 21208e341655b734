// Seed 004 on Gaffer: npx tsx examples/retry-question/main.ts
import { runDemo } from './demo.js';
import { QUESTIONS, REGIONS } from './router.js';

const out = (s = '') => process.stdout.write(`${s}\n`);
const r = await runDemo();
const grid = (tasks: typeof r.first.tasks) => {
  out(`  ${''.padEnd(4)}${REGIONS.map((x) => x.padEnd(16)).join('')}`);
  QUESTIONS.forEach((_, q) => {
    const cells = REGIONS.map((_, i) => {
      const t = tasks[q * REGIONS.length + i]!;
      return `${t.status}${t.manualRetries ? ` (${t.manualRetries}×)` : ''}`.padEnd(16);
    });
    out(`  q${q}  ${cells.join('')}`);
  });
};

out(`Gaffer server (embedded store) at ${r.url}`);
out(
  `\nJob ${r.jobId}: ${QUESTIONS.length} questions × ${REGIONS.length} regions, one session; after the first run:`,
);
grid(r.first.tasks);
const t = r.timeout;
out(`\nRetry (q0, United States), a timeout on ${t.failedProvider}: ${JSON.stringify(t.response)}`);
out(`  -> ${t.after.status} on ${t.retryProvider}; history ${JSON.stringify(t.after.retryHistory)}`);
out(
  `\nTwo retries of (q1, Europe) at once: ${r.concurrent.fulfilled.length} accepted, refused: ${r.concurrent.refused.map((x) => `${x.status} ${x.code}`)}`,
);
out(`  -> ${r.concurrent.after.status}`);
out('\n(q2, Asia Pacific) fails every time:');
r.limit.outcomes.forEach((o, i) => {
  out(`  retry ${i + 1}: ${o.retryHistory[i]?.outcome} (${o.error?.message})`);
});
out(`  retry 4: refused ${r.limit.refused.status} ${r.limit.refused.code}: ${r.limit.refused.message}`);
out(`  history: ${JSON.stringify(r.limit.outcomes.at(-1)?.retryHistory)}`);
out(`Retry of a completed question: ${r.notEligible.status} ${r.notEligible.code}: ${r.notEligible.message}`);
out(`Retry of question 7: ${r.invalidIndex.code}: ${r.invalidIndex.message}`);
out('\nThe grid at the end (only the retried cells ran again):');
grid(r.final.tasks);
out(`Runs per cell: ${JSON.stringify(r.runsAfter)}`);
out(`\nGET /metrics (inference.run): before ${JSON.stringify(r.metrics.before)}`);
out(`                              after  ${JSON.stringify(r.metrics.after)}`);
