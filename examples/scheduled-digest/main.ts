// A schedule with a fan-in on Gaffer: npx tsx examples/scheduled-digest/main.ts
import { runDemo } from './demo.js';

const out = (s = '') => process.stdout.write(`${s}\n`);
const r = await runDemo();
out(`Gaffer server (embedded store) at ${r.url}`);
out(
  `Schedule ${r.created.name}: every ${r.created.everyMs} ms, first run ${r.created.nextRunAt?.toISOString()}`,
);
for (const d of [...r.digests].sort((a, b) =>
  String(a.metadata.scheduledFor).localeCompare(String(b.metadata.scheduledFor)),
)) {
  out(
    `  tick ${d.metadata.scheduledFor}: ${d.status}, ${JSON.stringify(d.result)}  (key ${d.idempotencyKey})`,
  );
}
out(
  `Paused after ${r.schedule.runs} ticks (${r.parts.length} parts); next runs while paused: ${r.paused.upcoming.length}`,
);
