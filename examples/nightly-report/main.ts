// A nightly report over many parts, on Gaffer: npx tsx examples/nightly-report/main.ts
import { runDemo } from './demo.js';

const out = (s = '') => process.stdout.write(`${s}\n`);
const r = await runDemo({ log: (l) => out(`  ${l}`) });
out(`\nGaffer server (embedded store) at ${r.url}`);
out(`The schedule fired ${r.ticks.length} report(s); the first:`);
out(`  ${JSON.stringify(r.report.result)} (attempt ${r.report.attempt}: the fan-out wait spent none)`);
for (const c of r.children)
  out(
    `  ${c.id.split(':').at(-1)?.padEnd(10)} ${c.status.padEnd(10)} ${c.error?.message ?? JSON.stringify(c.result)}`,
  );
out(`Approved and sent: ${JSON.stringify(r.approval.result)}`);
