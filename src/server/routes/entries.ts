import { z } from 'zod';
import { GafferError } from '../../core/errors.js';
import type { ServerContext, ZodApp } from '../context.js';
import { EntryOut, noContent, problems } from '../responses.js';
import { Id, Name, Text } from '../schemas.js';

const tags = ['session entries'];

const EntryList = z
  .object({
    short_id: z.string(),
    sessions: z.array(EntryOut),
    total_sessions: z.number(),
    timestamp: z.string(),
  })
  .meta({ id: 'SessionEntries', description: 'seed 001: the open session entries of a key' });
const TaskParams = z.strictObject({ taskId: Id });
const ReleaseBody = z.union([z.strictObject({ taskId: Id }), z.strictObject({ key: Text, type: Name })]);

function noEntry(taskId: string): GafferError {
  return new GafferError(
    'not_found',
    `task ${JSON.stringify(taskId)} has no open session entry (no such task, no key, tracking none, finished, or released)`,
    { taskId },
  );
}

/**
 * Seed 001's session service: open entries of a key (`short_id`), the entry of a
 * task, and releasing entries (by task, or by key + type for `hold` types).
 */
export function registerEntryRoutes(app: ZodApp, ctx: ServerContext): void {
  const { store, log } = ctx;

  app.get(
    '/entries/:shortId',
    {
      schema: {
        tags,
        summary: 'The open session entries of a key (seed 001: GET /sessions/{short_id})',
        params: z.strictObject({ shortId: Text }),
        response: { 200: EntryList, ...problems(400, 401, 403) },
      },
      config: { access: 'read' },
    },
    async (req) => {
      const sessions = await store.listOpenEntries(req.params.shortId);
      return {
        short_id: req.params.shortId,
        sessions,
        total_sessions: sessions.length,
        timestamp: new Date().toISOString(),
      };
    },
  );

  app.get(
    '/entries/task/:taskId',
    {
      schema: {
        tags,
        summary: 'The open session entry of a task',
        params: TaskParams,
        response: { 200: EntryOut, ...problems(400, 401, 403, 404) },
      },
      config: { access: 'read' },
    },
    async (req) => {
      const entry = await store.getEntry(req.params.taskId);
      if (!entry) throw noEntry(req.params.taskId);
      return entry;
    },
  );

  app.delete(
    '/entries/task/:taskId',
    {
      schema: {
        tags,
        summary: 'Remove (release) the session entry of a task',
        params: TaskParams,
        response: problems(400, 401, 403, 404),
      },
      config: { access: 'create' },
    },
    async (req, reply) => {
      const n = await store.releaseEntries({ taskId: req.params.taskId });
      if (n === 0) throw noEntry(req.params.taskId);
      log.info({ event: 'entry_released', taskId: req.params.taskId }, 'session entry released');
      return noContent(reply);
    },
  );

  app.post(
    '/entries/release',
    {
      schema: {
        tags,
        summary: 'Release held entries: one task’s, or every entry of a key and task type',
        body: ReleaseBody,
        response: { 200: z.object({ released: z.number() }), ...problems(400, 401, 403) },
      },
      config: { access: 'create' },
    },
    async (req) => {
      const released = await store.releaseEntries(req.body);
      log.info({ event: 'entry_released', ...req.body, released }, 'session entries released');
      return { released };
    },
  );
}
