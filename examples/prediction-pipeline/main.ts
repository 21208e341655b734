// Seed 003 on Gaffer (needs PostgreSQL): npx tsx examples/prediction-pipeline/main.ts [--logs] [--keep]
// Uses GAFFER_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test, in schemas of its own.
import { parseArgs } from 'node:util';
import { runDemo } from './demo.js';

const { values } = parseArgs({
  options: { logs: { type: 'boolean', default: false }, keep: { type: 'boolean', default: false } },
});
const out = (s = '') => process.stdout.write(`${s}\n`);
const r = await runDemo({
  keep: values.keep,
  onWorkerLine: (l) => {
    if (values.logs || !l.startsWith('{')) out(`    worker | ${l}`);
  },
});

out(
  `\nSchemas: ${r.schemas.app} (predictions), ${r.schemas.gaffer} (Gaffer)${values.keep ? ' (kept)' : ' (dropped)'}`,
);
const e = r.e2e;
out(`\nTest 1, end to end: POST /api/csv -> ${JSON.stringify(e.response)}`);
out(
  `  row at upload: ${e.queuedRow.status}, task ${e.queuedRow.task_id}, queued_at ${e.queuedRow.queued_at?.toISOString()}`,
);
out(
  `  row at the end: ${e.done.status}, rows_processed ${e.done.rows_processed}, output ${e.done.s3_output_key} (${e.outputLines} lines)`,
);
out(
  `Publisher crash before commit: "${r.rollback.error}"; rows ${r.rollback.rowsBefore} -> ${r.rollback.rowsAfter}, tasks ${r.rollback.tasksBefore} -> ${r.rollback.tasksAfter}`,
);
const v = r.validation;
out(
  `\nTest 2, validation: POST /api/v1/tasks {"prediction_id":"invalid"} -> HTTP ${v.httpStatus}: ${v.httpBody.detail}`,
);
out(`  SDK: ${v.sdkError}`);
out(
  `  sent past validation: ${v.poison.status} after ${v.poison.attempt} attempt: ${v.poison.error?.message}`,
);
const i = r.idempotency;
out(
  `\nTest 3, idempotency: same key -> ${i.sameKeyOutcome} (${i.sameKeyTaskId}); as a new task -> ${JSON.stringify(i.duplicate.result)}`,
);
out(
  `\nBroken CSV: task ${r.broken.task.status} after ${r.broken.task.attempt} attempts (${r.broken.task.error?.message}); row ${r.broken.row.status}`,
);
const s = r.shutdown;
out(
  `\nTest 4, SIGTERM mid-prediction: worker exit ${s.exit.code}; the running one ${s.inFlight.status}, the next one ${s.waiting.status} (task ${s.waitingTask.status})`,
);
