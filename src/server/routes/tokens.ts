import { z } from 'zod';
import type { ServerContext, ZodApp } from '../context.js';
import { noContent, problems } from '../responses.js';
import { Id, Name } from '../schemas.js';

const tags = ['tokens'];

const TokenOut = z
  .object({
    id: z.string(),
    name: z.string(),
    role: z.enum(['admin', 'producer', 'worker']),
    createdAt: z.date(),
    lastUsedAt: z.date().nullable(),
    revokedAt: z.date().nullable(),
    queues: z.array(z.string()).nullable().describe('worker tokens: the queues its workers may claim from'),
    types: z.array(z.string()).nullable().describe('worker tokens: the task types its workers may claim'),
  })
  .meta({ id: 'ApiToken' });

/**
 * API tokens (R9.1), admin only. While no token exists auth is off and the
 * server listens on loopback only, so the first token is created from there
 * (or with `gaffer token create`).
 */
export function registerTokenRoutes(app: ZodApp, ctx: ServerContext): void {
  const { store, log } = ctx;

  app.post(
    '/tokens',
    {
      schema: {
        tags,
        summary: 'Create a token; its secret is in this answer only',
        body: z.strictObject({
          name: z.string().min(1, 'must not be empty').max(100, 'must be at most 100 characters'),
          role: z.enum(['admin', 'producer', 'worker']),
          queues: z
            .array(Name)
            .min(1)
            .max(100)
            .optional()
            .describe('worker tokens only: its workers claim (and so read and complete) only these queues'),
          types: z
            .array(Name)
            .min(1)
            .max(100)
            .optional()
            .describe('worker tokens only: its workers claim only these task types'),
        }),
        response: { 201: TokenOut.extend({ token: z.string() }), ...problems(400, 401, 403) },
      },
      config: { access: 'admin' },
    },
    async (req, reply) => {
      const created = await store.createToken(req.body);
      ctx.auth.changed();
      // The secret is never logged.
      log.info(
        {
          event: 'token_created',
          tokenId: created.id,
          name: created.name,
          role: created.role,
          queues: created.queues ?? undefined,
          types: created.types ?? undefined,
        },
        'token created',
      );
      return reply.code(201).send(created);
    },
  );

  app.get(
    '/tokens',
    {
      schema: {
        tags,
        summary: 'List tokens (never their secrets)',
        response: { 200: z.object({ items: z.array(TokenOut) }), ...problems(401, 403) },
      },
      config: { access: 'admin' },
    },
    async () => ({ items: await store.listTokens() }),
  );

  app.delete(
    '/tokens/:id',
    {
      schema: {
        tags,
        summary: 'Revoke a token (the last active admin token only with force=true)',
        params: z.strictObject({ id: Id }),
        querystring: z.strictObject({
          force: z
            .enum(['true', 'false'])
            .optional()
            .describe('true: revoke even the last active admin token (nobody can then manage tokens)'),
        }),
        response: problems(400, 401, 403, 404, 409),
      },
      config: { access: 'admin' },
    },
    async (req, reply) => {
      const force = req.query.force === 'true';
      await store.revokeToken(req.params.id, { force });
      ctx.auth.changed(req.params.id);
      log.info({ event: 'token_revoked', tokenId: req.params.id, force }, 'token revoked');
      return noContent(reply);
    },
  );
}
