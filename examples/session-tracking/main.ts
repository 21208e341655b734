// Seed 001 on Gaffer: npx tsx examples/session-tracking/main.ts
import { runDemo, SHORT_ID, UNSAVED_SHORT_ID } from './demo.js';

const out = (s = '') => process.stdout.write(`${s}\n`);
const r = await runDemo();

out(`Gaffer server (embedded store) at ${r.url}`);
out(`Open session entries of ${SHORT_ID} (GET /api/v1/entries/${SHORT_ID}) through their life:`);
for (const s of r.snapshots) {
  out(`\n  after "${s.step}": total_sessions ${s.entries.total_sessions}`);
  for (const e of s.entries.sessions)
    out(`    ${e.task_type.padEnd(20)} ${e.status.padEnd(10)} ${e.task_id}`);
}
out(`\nGET /api/v1/entries/task/<image_analysis> while it runs: HTTP ${r.runningEntry.status}`);
out(`  ${JSON.stringify(r.runningEntry.body)}`);
out(`GET /api/v1/entries/task/<scraping>: HTTP ${r.scrapingEntry.status} (scraping makes no entry)`);
out(
  `DELETE /api/v1/entries/task/<finalize_short>: HTTP ${r.removeStatus}; again: HTTP ${r.removeAgainStatus}`,
);
out(`  the task itself is still ${r.finalizeTaskAfterRemove.status}`);
const ret = r.retention;
out(`\nRetention (7 days): ${ret.tasksBefore} tasks`);
out(`  retain(now + 1 day):  removed ${JSON.stringify(ret.early)}; ${ret.tasksAfterEarly} tasks left`);
out(`  retain(now + 8 days): removed ${JSON.stringify(ret.late)}; ${ret.tasksAfterLate} tasks left`);
out(
  `  kept: the unsaved scenario of ${UNSAVED_SHORT_ID} (held until released): ${ret.remainingIds.join(', ')}`,
);
