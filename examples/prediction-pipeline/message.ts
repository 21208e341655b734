import { z } from 'zod';

/** The Gaffer task type of a prediction (the seed's SQS queue). */
export const TASK_TYPE = 'prediction.process';
/** The bucket the upload endpoint writes to (a local directory stands in for S3). */
export const BUCKET = 'retainwise-uploads';

const DAY_MS = 24 * 3600_000;

/**
 * The message a prediction task carries, checked by the publisher, by Gaffer at
 * creation (as JSON Schema) and by the worker before it touches anything: the
 * seed's Pydantic model with its layers (structure, UUIDs, an S3 path that cannot
 * traverse, a Clerk-style user id, a timestamp that is not a replay).
 */
export const PredictionMessage = z.strictObject({
  prediction_id: z.uuid(),
  user_id: z.string().regex(/^user_[A-Za-z0-9]{3,64}$/, 'must be a user id like user_2abc'),
  upload_id: z.uuid(),
  s3_file_path: z
    .string()
    .regex(
      /^s3:\/\/[a-z0-9.-]+\/uploads\/user_[A-Za-z0-9]+\/[A-Za-z0-9_-]+\.csv$/,
      'must be s3://<bucket>/uploads/<user>/<file>.csv',
    )
    .refine((p) => !p.includes('..'), 'must not contain ..'),
  priority: z.enum(['normal', 'high']).optional(),
  timestamp: z.iso
    .datetime({ offset: true })
    .refine(
      (t) => Math.abs(Date.now() - Date.parse(t)) < DAY_MS,
      'must be within the last 24 hours (a replay?)',
    ),
});
export type PredictionMessage = z.infer<typeof PredictionMessage>;

/** The object key inside the bucket: the seed's `'/'.join(s3_file_path.split('/')[3:])`. */
export function s3Key(path: string): string {
  return path.split('/').slice(3).join('/');
}

export function issuesOf(err: z.ZodError): string[] {
  return err.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`);
}
