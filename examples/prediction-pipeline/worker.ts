// The prediction worker process (the seed's ECS service): node --import tsx examples/prediction-pipeline/worker.ts
// Env: GAFFER_DATABASE_URL, GAFFER_SCHEMA (Gaffer's tables), APP_SCHEMA (predictions), BUCKET_DIR, PROCESS_DELAY_MS.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  DirectTransport,
  NonRetryableError,
  openPostgresStore,
  type TaskContext,
  Worker,
} from '@gafferhq/gaffer';
import pg from 'pg';
import pino from 'pino';
import { getPrediction, predictionsTable } from './db.js';
import { issuesOf, PredictionMessage, s3Key, TASK_TYPE } from './message.js';
import { predictCsv } from './predict.js';

const env = (k: string, d?: string) => {
  const v = process.env[k] ?? d;
  if (v === undefined) throw new Error(`set ${k}`);
  return v;
};
const DATABASE_URL = env('GAFFER_DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/test');
const GAFFER_SCHEMA = env('GAFFER_SCHEMA');
const APP_SCHEMA = env('APP_SCHEMA');
const BUCKET_DIR = env('BUCKET_DIR');
const DELAY_MS = Number(env('PROCESS_DELAY_MS', '0'));

const log = pino(
  { base: { service: 'prediction-worker' }, timestamp: pino.stdTimeFunctions.isoTime },
  pino.destination({ sync: true }),
);
const say = (s: string) => process.stdout.write(`${s}\n`);
const rule = '='.repeat(60);

say(rule);
say('🚀 Starting Prediction Worker');
say(rule);
say(`Queue: Gaffer task type ${TASK_TYPE} (schema ${GAFFER_SCHEMA})`);
say(`Environment: ${process.env.NODE_ENV ?? 'development'}`);
say(rule);

const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
const table = predictionsTable(APP_SCHEMA);
const store = await openPostgresStore({
  connectionString: DATABASE_URL,
  schema: GAFFER_SCHEMA,
  migrate: false,
});
let processed = 0;
let failed = 0;

async function setStatus(id: string, status: string, extra: Record<string, unknown> = {}): Promise<void> {
  const cols = Object.keys(extra);
  const sets = cols.map((c, i) => `, ${c} = $${i + 3}`).join('');
  await pool.query(`update ${table} set status = $2, updated_at = now()${sets} where id = $1`, [
    id,
    status,
    ...Object.values(extra),
  ]);
  log.info(
    { event: 'prediction_status_updated', prediction_id: id, status },
    `Prediction status updated to ${status}`,
  );
}

async function handle(payload: unknown, ctx: TaskContext): Promise<unknown> {
  const messageId = ctx.task.id;
  // Layer 1: the message itself. A malformed one can never succeed: fail it for good (no retries).
  const parsed = PredictionMessage.safeParse(payload);
  if (!parsed.success) {
    const errors = issuesOf(parsed.error);
    log.error(
      { event: 'message_validation_failed', message_id: messageId, errors },
      '❌ Invalid message structure',
    );
    log.error(
      { event: 'message_processing_failed', message_id: messageId, total_failed: ++failed },
      'message failed',
    );
    throw new NonRetryableError(`invalid message: ${errors.join('; ')}`);
  }
  const m = parsed.data;
  const key = s3Key(m.s3_file_path);
  log.info(
    {
      event: 'prediction_processing_started',
      prediction_id: m.prediction_id,
      user_id: m.user_id,
      upload_id: m.upload_id,
      s3_key: key,
      priority: m.priority ?? 'normal',
    },
    '✅ Processing prediction task',
  );
  // Idempotency: a duplicate of a finished prediction is acknowledged and skipped.
  const row = await getPrediction(pool, APP_SCHEMA, m.prediction_id);
  if (!row) {
    log.warn({ event: 'prediction_not_found', prediction_id: m.prediction_id }, 'Prediction not found');
    return { skipped: 'not_found' };
  }
  if (row.status === 'COMPLETED') {
    log.info(
      { event: 'prediction_already_final', prediction_id: m.prediction_id, status: row.status },
      `Prediction ${m.prediction_id} already in final state: ${row.status}`,
    );
    log.info(
      { event: 'message_processed', message_id: messageId, total_processed: ++processed },
      'message skipped',
    );
    return { skipped: 'already_final', status: row.status };
  }
  await setStatus(m.prediction_id, 'RUNNING');
  try {
    await new Promise((r) => setTimeout(r, DELAY_MS)); // the model's time
    const { rows, output } = predictCsv(readFileSync(join(BUCKET_DIR, key), 'utf8'));
    const outKey = `predictions/${m.user_id}/${m.prediction_id}.csv`;
    mkdirSync(dirname(join(BUCKET_DIR, outKey)), { recursive: true });
    writeFileSync(join(BUCKET_DIR, outKey), output);
    await setStatus(m.prediction_id, 'COMPLETED', {
      rows_processed: rows,
      s3_output_key: outKey,
      error: null,
    });
    log.info(
      { event: 'prediction_processing_completed', prediction_id: m.prediction_id, rows_processed: rows },
      'done',
    );
    log.info(
      { event: 'message_processed', message_id: messageId, total_processed: ++processed },
      '✅ Message processed successfully',
    );
    return { rows_processed: rows, s3_output_key: outKey };
  } catch (err) {
    // The row says FAILED; the task is retried by Gaffer (the seed: "don't delete the message").
    const error = (err as Error).message;
    await setStatus(m.prediction_id, 'FAILED', { error });
    log.error(
      { event: 'prediction_processing_failed', prediction_id: m.prediction_id, error },
      'prediction failed',
    );
    log.error(
      { event: 'message_processing_failed', message_id: messageId, total_failed: ++failed },
      'message failed',
    );
    throw err;
  }
}

const worker = new Worker({
  transport: new DirectTransport(store, { ownsStore: true }),
  concurrency: 1,
  machineId: process.env.GAFFER_MACHINE_ID ?? 'prediction-worker',
  logger: log.child({ component: 'gaffer' }),
});
worker.handle(TASK_TYPE, handle);
await worker.start();
log.info(
  {
    event: 'worker_startup',
    queue: TASK_TYPE,
    environment: process.env.NODE_ENV ?? 'development',
    worker_id: worker.id,
  },
  'started',
);
say('✅ Worker ready - polling for messages...');

async function shutdown(signal: NodeJS.Signals): Promise<void> {
  say(`Received signal ${signal}, initiating graceful shutdown...`);
  // Stops claiming, lets the running prediction finish, hands back the rest, deregisters.
  const s = await worker.stop();
  await pool.end();
  const rate = s.processed === 0 ? 100 : (s.completed / s.processed) * 100;
  log.info(
    {
      event: 'worker_shutdown',
      uptime: s.uptimeMs / 1000,
      messages_processed: s.completed,
      messages_failed: s.failed,
      success_rate: rate,
    },
    'stopped',
  );
  say(rule);
  say('🛑 Prediction Worker Shutdown');
  say(`Uptime: ${(s.uptimeMs / 1000).toFixed(2)} seconds`);
  say(`Messages Processed: ${s.completed}`);
  say(`Messages Failed: ${s.failed}`);
  say(`Success Rate: ${rate.toFixed(1)}%`);
  say(rule);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
