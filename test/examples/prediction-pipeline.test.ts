import { beforeAll, describe, expect, it } from 'vitest';
import { type DemoReport, runDemo } from '../../examples/prediction-pipeline/demo.js';
import { assertPostgresReachable, TEST_DATABASE_URL } from '../helpers/stores.js';

// Seed 003's "Testing Strategy" (tests 1–4) and its success criteria, against the example end to
// end on PostgreSQL: the app's upload endpoint, transactional enqueue, the worker as a process.
describe('examples/prediction-pipeline (seed 003)', () => {
  let r: DemoReport;
  let logs: Record<string, unknown>[];
  const events = (name: string) => logs.filter((l) => l.event === name && l.component === undefined);

  beforeAll(async () => {
    await assertPostgresReachable();
    r = await runDemo({ databaseUrl: TEST_DATABASE_URL });
    logs = r.workerOutput
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }, 90_000);

  it('starts with a banner and a worker_startup event', () => {
    expect(r.workerOutput).toContain('🚀 Starting Prediction Worker');
    expect(r.workerOutput).toContain('✅ Worker ready - polling for messages...');
    expect(events('worker_startup')[0]).toMatchObject({
      queue: 'prediction.process',
      environment: expect.any(String),
    });
  });

  describe('test 1: end-to-end prediction flow', () => {
    it('upload → prediction row and its task committed together (QUEUED, task id and queued-at on the row)', () => {
      const { response, queuedRow, task } = r.e2e;
      expect(response).toMatchObject({ success: true, status: 'queued', prediction_id: expect.any(String) });
      expect(queuedRow.task_id).toBe(task.id);
      expect(queuedRow.queued_at).toBeInstanceOf(Date);
      expect(task.payload).toMatchObject({ prediction_id: response.prediction_id, user_id: 'user_2abcDEF' });
    });

    it('the worker moves it QUEUED → RUNNING → COMPLETED and writes the results', () => {
      const id = r.e2e.response.prediction_id;
      const statuses = events('prediction_status_updated').filter((l) => l.prediction_id === id);
      expect(statuses.map((l) => l.status)).toEqual(['RUNNING', 'COMPLETED']);
      expect(r.e2e.done).toMatchObject({ status: 'COMPLETED', rows_processed: 40, error: null });
      expect(r.e2e.done.s3_output_key).toBe(`predictions/user_2abcDEF/${id}.csv`);
      expect(r.e2e.outputLines).toBe(41);
      expect(r.e2e.task).toMatchObject({ status: 'completed', attempt: 1, result: { rows_processed: 40 } });
      expect(events('prediction_processing_started').find((l) => l.prediction_id === id)).toMatchObject({
        user_id: 'user_2abcDEF',
        upload_id: expect.any(String),
        s3_key: expect.stringMatching(/^uploads\/user_2abcDEF\/.+\.csv$/),
        priority: 'normal',
      });
      expect(events('prediction_processing_completed').find((l) => l.prediction_id === id)).toMatchObject({
        rows_processed: 40,
      });
      expect(events('message_processed')[0]).toMatchObject({ message_id: r.e2e.task.id, total_processed: 1 });
    });

    it('a publisher that crashes before commit leaves neither the row nor the task', () => {
      expect(r.rollback.error).toBe('publisher crashed before commit');
      expect(r.rollback.rowsAfter).toBe(r.rollback.rowsBefore);
      expect(r.rollback.tasksAfter).toBe(r.rollback.tasksBefore);
    });
  });

  describe('test 2: message validation', () => {
    it('refuses a malformed message at creation, naming the field (HTTP 400 and in the SDK)', () => {
      expect(r.validation.httpStatus).toBe(400);
      expect(r.validation.httpBody).toMatchObject({
        code: 'validation',
        field: expect.stringMatching(/^payload\./),
      });
      expect(r.validation.sdkError).toMatch(/payload\.prediction_id/);
    });

    it('fails a malformed message that got in anyway for good, on its first attempt, naming the missing fields', () => {
      const poison = r.validation.poison;
      expect(poison).toMatchObject({ status: 'failed', attempt: 1, error: { retryable: false } });
      const failed = events('message_validation_failed').find((l) => l.message_id === poison.id);
      const errors = ((failed?.errors ?? []) as string[]).join('\n');
      for (const field of ['prediction_id', 'user_id', 'upload_id', 's3_file_path'])
        expect(errors).toContain(field);
      expect(r.broken.deadLetters).toContain(poison.id);
    });
  });

  describe('test 3: idempotency', () => {
    it('the same message sent twice with its key is one task', () => {
      expect(r.idempotency.sameKeyOutcome).toBe('existing');
      expect(r.idempotency.sameKeyTaskId).toBe(r.e2e.task.id);
    });

    it('a duplicate delivery of a finished prediction is acknowledged and skipped, not reprocessed', () => {
      const { duplicate, rowBefore, rowAfter } = r.idempotency;
      expect(duplicate).toMatchObject({
        status: 'completed',
        result: { skipped: 'already_final', status: 'COMPLETED' },
      });
      expect(rowAfter.updated_at).toEqual(rowBefore.updated_at);
      expect(events('prediction_already_final').map((l) => l.msg)).toContain(
        `Prediction ${r.e2e.response.prediction_id} already in final state: COMPLETED`,
      );
    });
  });

  it('a failing prediction is retried (the message is kept), then dead-lettered; the row says FAILED', () => {
    expect(r.broken.task).toMatchObject({ status: 'failed', attempt: 3 });
    expect(r.broken.task.error?.message).toMatch(/row 5 is not valid/);
    expect(r.broken.row).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/row 5/) });
    expect(r.broken.deadLetters).toContain(r.broken.task.id);
    const failures = events('prediction_processing_failed').filter(
      (l) => l.prediction_id === r.broken.row.id,
    );
    expect(failures).toHaveLength(3);
  });

  describe('test 4: graceful shutdown', () => {
    it('on SIGTERM finishes the running prediction, leaves the next one queued and exits 0', () => {
      expect(r.shutdown.exit).toEqual({ code: 0, signal: null });
      expect(r.shutdown.inFlight.status).toBe('COMPLETED');
      expect(r.shutdown.waiting.status).toBe('QUEUED');
      expect(r.shutdown.waitingTask.status).toBe('queued');
    });

    it('prints the shutdown summary: uptime, processed, failed, success rate', () => {
      const out = r.workerOutput;
      expect(out).toContain('Received signal SIGTERM, initiating graceful shutdown...');
      expect(out).toContain('🛑 Prediction Worker Shutdown');
      expect(out.some((l) => /^Uptime: \d+\.\d\d seconds$/.test(l))).toBe(true);
      // Completed: the first prediction, the skipped duplicate, the one in flight; failed: the
      // poison message and the broken CSV's three attempts.
      expect(out).toContain('Messages Processed: 3');
      expect(out).toContain('Messages Failed: 4');
      expect(out).toContain('Success Rate: 42.9%');
      expect(events('worker_shutdown')[0]).toMatchObject({ messages_processed: 3, messages_failed: 4 });
    });
  });
});
