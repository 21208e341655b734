import { randomUUID } from 'node:crypto';
import { enqueueInTransaction, type SqlStore } from '@gafferhq/gaffer';
import { quoteIdent } from '@gafferhq/gaffer/store';
import type pg from 'pg';
import { BUCKET, PredictionMessage, TASK_TYPE } from './message.js';

/** The application's own table: the seed's Prediction model, with Gaffer's task id where SQS's message id was. */
export interface Prediction {
  id: string;
  user_id: string;
  upload_id: string;
  s3_file_path: string;
  status: 'QUEUED' | 'RUNNING' | 'COMPLETED' | 'FAILED';
  rows_processed: number | null;
  s3_output_key: string | null;
  error: string | null;
  task_id: string | null;
  queued_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export const predictionsTable = (schema: string) => `${quoteIdent(schema)}.predictions`;

export async function createAppSchema(pool: pg.Pool, schema: string): Promise<void> {
  await pool.query(`create schema if not exists ${quoteIdent(schema)}`);
  await pool.query(`create table if not exists ${predictionsTable(schema)} (
    id uuid primary key,
    user_id text not null,
    upload_id uuid not null,
    s3_file_path text not null,
    status text not null default 'QUEUED',
    rows_processed int,
    s3_output_key text,
    error text,
    task_id text,
    queued_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
  )`);
}

export async function getPrediction(db: pg.Pool, schema: string, id: string): Promise<Prediction | null> {
  const res = await db.query<Prediction>(`select * from ${predictionsTable(schema)} where id = $1`, [id]);
  return res.rows[0] ?? null;
}

export interface NewPrediction {
  userId: string;
  uploadId: string;
  priority?: 'normal' | 'high';
}

/**
 * The publisher: the prediction row and its task in ONE transaction, so they
 * can never drift apart (the seed wrote a row and an SQS message separately, and
 * its columns for the message did not exist). `beforeCommit` lets a test crash
 * the publisher between the two writes and the commit.
 */
export async function createPrediction(
  deps: { pool: pg.Pool; store: SqlStore; schema: string },
  input: NewPrediction,
  hooks: { beforeCommit?: () => Promise<void> | void } = {},
): Promise<{ prediction: Prediction; message: PredictionMessage }> {
  const id = randomUUID();
  const message = PredictionMessage.parse({
    prediction_id: id,
    user_id: input.userId,
    upload_id: input.uploadId,
    s3_file_path: `s3://${BUCKET}/uploads/${input.userId}/${input.uploadId}.csv`,
    priority: input.priority ?? 'normal',
    timestamp: new Date().toISOString(),
  });
  const table = predictionsTable(deps.schema);
  const c = await deps.pool.connect();
  try {
    await c.query('begin');
    await c.query(`insert into ${table} (id, user_id, upload_id, s3_file_path) values ($1, $2, $3, $4)`, [
      id,
      message.user_id,
      message.upload_id,
      message.s3_file_path,
    ]);
    const { tasks } = await enqueueInTransaction(deps.store, c, [
      {
        type: TASK_TYPE,
        payload: message,
        idempotencyKey: `prediction:${id}`,
        userId: message.user_id,
        priority: message.priority === 'high' ? 10 : 0,
      },
    ]);
    const task = tasks[0]!;
    const row = await c.query<Prediction>(
      `update ${table} set task_id = $2, queued_at = $3 where id = $1 returning *`,
      [id, task.id, task.createdAt],
    );
    await hooks.beforeCommit?.();
    await c.query('commit');
    return { prediction: row.rows[0]!, message };
  } catch (err) {
    await c.query('rollback').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}
