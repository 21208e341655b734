// Seed 002 on Gaffer: npx tsx examples/study-fleet/main.ts [--logs]
import { parseArgs } from 'node:util';
import { KILLED, runDemo, STALE_AFTER_MS } from './demo.js';

const { values } = parseArgs({ options: { logs: { type: 'boolean', default: false } } });
const out = (s = '') => process.stdout.write(`${s}\n`);
const r = await runDemo({
  onLine: (p, line) => {
    if (values.logs) out(`    [pc-${p.index} ${p.language}] ${line}`);
  },
  onLog: (l) => {
    if (values.logs) out(`    [server] ${JSON.stringify(l)}`);
  },
});

out(`Gaffer server (embedded store, stale after ${STALE_AFTER_MS} ms) at ${r.url}`);
out(`Super study ${r.studyId}: ${r.created.length} assignments, index i is assignment i for ever`);
out('\nWorker processes (gaffer worker N <study>; PC 2 is the Python worker):');
for (const p of r.processes) {
  const claim = p.lines.find((l) => l.startsWith('assignment ')) ?? '';
  const how = p.signal ? `killed (${p.signal})` : `exit ${p.code}`;
  out(`  pc-${p.index} ${p.language.padEnd(10)} ${how.padEnd(16)} ${claim}`);
}
out(`\nPC ${KILLED} was killed at progress ${JSON.stringify(r.killed.progressBeforeKill)}`);
out(
  `  its worker ${r.killed.workerId} went stale after ${r.killed.msToStale} ms: ${r.killed.worker.staleReason}`,
);
out(
  `  assignment ${KILLED} went back to ${r.killed.task.status} (attempt ${r.killed.task.attempt}: ${r.killed.task.error?.message})`,
);
out(`  the restarted PC's worker ${r.fleet.task.workerId} claimed it again`);
out(`  live workers: ${r.fleet.live.length}; with stale ones: ${r.fleet.all.length}`);
out(`\nStudy ${r.final.session.status}; assignments by index:`);
for (const t of r.final.tasks) {
  const res = t.result as { language?: string } | null;
  out(
    `  #${t.sessionIndex} ${t.status} on ${t.machineId} (${res?.language}) worker ${t.workerId} attempts ${t.attempt} progress ${JSON.stringify(t.progress)}`,
  );
}
out(`\nFree-form state of PC 0's worker: ${JSON.stringify(r.details.typescript.worker?.state)}`);
out(`Free-form state of the Python worker: ${JSON.stringify(r.details.python.worker?.state)}`);
out(
  `Same PC connecting twice: ${r.reconnect.first} -> stale at once (${r.reconnect.firstAfter.staleReason})`,
);
out(`DELETE the killed worker: HTTP ${r.deleteWorker.status}; GET it after: HTTP ${r.deleteWorker.getAfter}`);
out(
  `DELETE the study: HTTP ${r.deleteStudy.status}; GET it after: HTTP ${r.deleteStudy.sessionAfter}; tasks left ${r.deleteStudy.tasksAfter}`,
);
