import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GafferClient, openPostgresStore, type SqlStore, type Task } from '@gafferhq/gaffer';
import { startServer } from '@gafferhq/gaffer/server';
import { quoteIdent } from '@gafferhq/gaffer/store';
import pg from 'pg';
import pino from 'pino';
import { startUploadApi } from './api.js';
import { createAppSchema, createPrediction, getPrediction, type Prediction } from './db.js';
import { PredictionMessage, TASK_TYPE } from './message.js';
import { sampleCsv } from './predict.js';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));
const USER = 'user_2abcDEF';

export interface DemoReport {
  schemas: { app: string; gaffer: string };
  /** Test 1: upload → QUEUED → RUNNING → COMPLETED. */
  e2e: {
    response: Record<string, unknown>;
    queuedRow: Prediction;
    task: Task;
    done: Prediction;
    outputLines: number;
  };
  /** The publisher crashed after writing the row and the task, before commit. */
  rollback: { error: string; rowsBefore: number; rowsAfter: number; tasksBefore: number; tasksAfter: number };
  /** Test 2: a malformed message. */
  validation: { httpStatus: number; httpBody: Record<string, unknown>; sdkError: string; poison: Task };
  /** Test 3: the same message twice. */
  idempotency: {
    sameKeyOutcome: string;
    sameKeyTaskId: string;
    duplicate: Task;
    rowBefore: Prediction;
    rowAfter: Prediction;
  };
  /** A CSV the model cannot read: retried, then dead-lettered; the row says FAILED. */
  broken: { task: Task; row: Prediction; deadLetters: string[] };
  /** Test 4: SIGTERM while a prediction runs. */
  shutdown: {
    inFlight: Prediction;
    waiting: Prediction;
    waitingTask: Task;
    exit: { code: number | null; signal: string | null };
  };
  /** The worker's stdout: banners and JSON log lines. */
  workerOutput: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * Seed 003 end to end on PostgreSQL: the app's upload endpoint, the prediction
 * worker as a separate process, and the seed's tests 1–4.
 */
export async function runDemo(
  opts: { databaseUrl?: string; keep?: boolean; onWorkerLine?: (line: string) => void } = {},
): Promise<DemoReport> {
  const databaseUrl = opts.databaseUrl ?? process.env.GAFFER_DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const suffix = randomBytes(4).toString('hex');
  const schemas = { app: `prediction_app_${suffix}`, gaffer: `prediction_gaffer_${suffix}` };
  const bucketDir = mkdtempSync(join(tmpdir(), 'gaffer-prediction-bucket-'));
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  let store: SqlStore | null = null;
  let child: ChildProcess | null = null;
  const cleanups: Array<() => Promise<void>> = [];
  try {
    await createAppSchema(pool, schemas.app);
    store = await openPostgresStore({ connectionString: databaseUrl, schema: schemas.gaffer });
    const client = new GafferClient(store);
    await client.defineType(TASK_TYPE, {
      schema: PredictionMessage,
      maxAttempts: 3,
      backoff: { baseMs: 100, maxMs: 300 },
    });
    // Gaffer's server on the same store: lease rescue, the HTTP API (used below) and the dashboard.
    const gaffer = await startServer({ store, port: 0, logger: pino({ level: 'silent' }) });
    cleanups.push(() => gaffer.close());
    const api = await startUploadApi({ pool, store, schema: schemas.app, bucketDir });
    cleanups.push(() => api.close());

    const workerOutput: string[] = [];
    child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
      cwd: ROOT,
      env: {
        ...process.env,
        GAFFER_DATABASE_URL: databaseUrl,
        GAFFER_SCHEMA: schemas.gaffer,
        APP_SCHEMA: schemas.app,
        BUCKET_DIR: bucketDir,
        // Long enough that the SIGTERM of test 4 lands while a prediction runs.
        PROCESS_DELAY_MS: '600',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) =>
      child!.once('exit', (code, signal) => r({ code, signal })),
    );
    const take = (b: Buffer) => {
      for (const line of b
        .toString('utf8')
        .split('\n')
        .filter((l) => l.trim())) {
        workerOutput.push(line);
        opts.onWorkerLine?.(line);
      }
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    await until(
      'the worker to be ready',
      async () => workerOutput.some((l) => l.includes('Worker ready')),
      30_000,
    );

    const upload = async (csv: string) => {
      const res = await fetch(`${api.url}/api/csv`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user_id: USER, csv }),
      });
      return (await res.json()) as Record<string, unknown> & { prediction_id: string };
    };
    const row = async (id: string) => (await getPrediction(pool, schemas.app, id))!;
    const settled = (id: string) =>
      until(`task ${id} to finish`, async () => {
        const t = await client.get(id);
        return t.status === 'completed' || t.status === 'failed' ? t : null;
      });
    const countRows = async () =>
      Number((await pool.query(`select count(*) from ${quoteIdent(schemas.app)}.predictions`)).rows[0].count);
    const countTasks = async () => (await client.count({ type: TASK_TYPE })).total ?? 0;

    // Test 1: end to end.
    const response = await upload(sampleCsv(40));
    const queuedRow = await row(response.prediction_id);
    const done = await until('the prediction to complete', async () => {
      const r = await row(response.prediction_id);
      return r.status === 'COMPLETED' ? r : null;
    });
    const task = await settled(queuedRow.task_id!);
    const outFile = join(bucketDir, done.s3_output_key ?? 'missing');
    const outputLines = existsSync(outFile) ? readFileSync(outFile, 'utf8').trim().split('\n').length : 0;
    const e2e = { response, queuedRow, task, done, outputLines };

    // The publisher crashes after both writes, before commit: neither the row nor the task exists.
    const rowsBefore = await countRows();
    const tasksBefore = await countTasks();
    const crash = await createPrediction(
      { pool, store, schema: schemas.app },
      { userId: USER, uploadId: randomUUID() },
      { beforeCommit: () => Promise.reject(new Error('publisher crashed before commit')) },
    ).catch((e: Error) => e.message);
    const rollback = {
      error: String(crash),
      rowsBefore,
      rowsAfter: await countRows(),
      tasksBefore,
      tasksAfter: await countTasks(),
    };

    // Test 2: a malformed message is refused at creation, over HTTP and in the SDK ...
    const bad = { prediction_id: 'invalid' };
    const http = await fetch(`${gaffer.url}/api/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: TASK_TYPE, payload: bad }),
    });
    const sdkError = await client.enqueue(TASK_TYPE, bad).then(
      () => 'accepted',
      (e: Error) => e.message,
    );
    // ... and one that got in anyway (an old publisher writing straight to the store) fails for good, once.
    const [poisonTask] = (await store.createTasks({ tasks: [{ type: TASK_TYPE, payload: bad }] })).tasks;
    const validation = {
      httpStatus: http.status,
      httpBody: (await http.json()) as Record<string, unknown>,
      sdkError,
      poison: await settled(poisonTask!.id),
    };

    // Test 3: the same message twice. With its idempotency key: no second task. As a new task: skipped.
    const rowBefore = await row(response.prediction_id);
    const again = await client.enqueueMany([
      { type: TASK_TYPE, payload: task.payload, idempotencyKey: `prediction:${response.prediction_id}` },
    ]);
    const dupTask = await client.enqueue(TASK_TYPE, task.payload);
    const idempotency = {
      sameKeyOutcome: again.outcomes[0]!,
      sameKeyTaskId: again.tasks[0]!.id,
      duplicate: await settled(dupTask.id),
      rowBefore,
      rowAfter: await row(response.prediction_id),
    };

    // A CSV the model cannot read: the task is retried (3 attempts), then dead-lettered.
    const brokenUpload = await upload(`${sampleCsv(3)}c9999,not-a-number,10,1\n`);
    const brokenTask = await settled((await row(brokenUpload.prediction_id)).task_id!);
    const broken = {
      task: brokenTask,
      row: await row(brokenUpload.prediction_id),
      deadLetters: (await client.deadLetters({ type: TASK_TYPE })).items.map((t) => t.id),
    };

    // Test 4: SIGTERM while a prediction runs: it finishes, the next one stays queued, a summary is printed.
    const first = await upload(sampleCsv(10));
    const second = await upload(sampleCsv(5));
    await until('the first to run', async () => (await row(first.prediction_id)).status === 'RUNNING');
    child.kill('SIGTERM');
    const exit = await exited;
    const waiting = await row(second.prediction_id);
    const shutdown = {
      inFlight: await row(first.prediction_id),
      waiting,
      waitingTask: await client.get(waiting.task_id!),
      exit,
    };

    return { schemas, e2e, rollback, validation, idempotency, broken, shutdown, workerOutput };
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await store?.close();
    if (!opts.keep) {
      for (const s of [schemas.app, schemas.gaffer])
        await pool.query(`drop schema if exists ${quoteIdent(s)} cascade`);
    }
    await pool.end();
    rmSync(bucketDir, { recursive: true, force: true });
  }
}
