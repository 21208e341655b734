import { z } from 'zod';
import type { ServerContext, ZodApp } from '../context.js';
import { Id, noContent, problems } from '../schemas.js';

const tags = ['tokens'];

const TokenOut = z
  .object({
    id: z.string(),
    name: z.string(),
    role: z.enum(['admin', 'producer', 'worker']),
    createdAt: z.date(),
    lastUsedAt: z.date().nullable(),
    revokedAt: z.date().nullable(),
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
        { event: 'token_created', tokenId: created.id, name: created.name, role: created.role },
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
        summary: 'Revoke a token',
        params: z.strictObject({ id: Id }),
        response: problems(401, 403, 404),
      },
      config: { access: 'admin' },
    },
    async (req, reply) => {
      await store.revokeToken(req.params.id);
      ctx.auth.changed(req.params.id);
      log.info({ event: 'token_revoked', tokenId: req.params.id }, 'token revoked');
      return noContent(reply);
    },
  );
}
