import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import type { SqlStore } from '@gafferhq/gaffer';
import type pg from 'pg';
import { ZodError } from 'zod';
import { createPrediction, getPrediction } from './db.js';
import { issuesOf, s3Key } from './message.js';

export interface UploadApi {
  url: string;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
}

/**
 * The application's own backend (the seed's FastAPI app), as a tiny node:http server:
 * - `POST /api/csv` `{user_id, csv}` stores the upload in the bucket, then creates the
 *   prediction row and its Gaffer task in one transaction;
 * - `GET /api/predictions/:id` reads the row.
 */
export async function startUploadApi(deps: {
  pool: pg.Pool;
  store: SqlStore;
  schema: string;
  /** Local directory standing in for the S3 bucket. */
  bucketDir: string;
}): Promise<UploadApi> {
  const server = createServer(async (req, res) => {
    try {
      if (req.method === 'POST' && req.url === '/api/csv') {
        const body = await readJson(req);
        const userId = String(body.user_id ?? '');
        if (!/^user_[A-Za-z0-9]{3,64}$/.test(userId) || typeof body.csv !== 'string') {
          return send(res, 400, { success: false, error: 'user_id (user_...) and csv (text) are required' });
        }
        // The upload is in the bucket before its task exists, so a worker never looks for a missing file.
        const uploadId = randomUUID();
        const file = join(deps.bucketDir, 'uploads', userId, `${uploadId}.csv`);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, body.csv);
        const { prediction, message } = await createPrediction(deps, { userId, uploadId });
        if (join(deps.bucketDir, s3Key(message.s3_file_path)) !== file)
          throw new Error('upload path mismatch');
        return send(res, 201, {
          success: true,
          prediction_id: prediction.id,
          status: 'queued',
          message: 'Prediction queued for processing (estimated 2-5 minutes)',
        });
      }
      const m = /^\/api\/predictions\/([0-9a-f-]{36})$/.exec(req.url ?? '');
      if (req.method === 'GET' && m) {
        const row = await getPrediction(deps.pool, deps.schema, m[1]!);
        return row ? send(res, 200, row) : send(res, 404, { error: 'no such prediction' });
      }
      send(res, 404, { error: 'not found' });
    } catch (err) {
      if (err instanceof ZodError) return send(res, 400, { success: false, errors: issuesOf(err) });
      send(res, 500, { success: false, error: (err as Error).message });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
