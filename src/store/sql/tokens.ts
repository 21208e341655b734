import { createHash, randomBytes } from 'node:crypto';
import { ConflictError, NotFoundError, ValidationError } from '../../core/errors.js';
import type { Queryable } from '../db.js';
import type { ApiToken, CreatedToken, CreateTokenParams, TokenRole } from '../store.js';
import { checkName } from './validate.js';

export const TOKEN_ROLES: readonly TokenRole[] = ['admin', 'producer', 'worker'];

/** Secrets carry a prefix so a leaked one is recognisable (and secret scanners can match it). */
const SECRET_PREFIX = 'gaffer_';

interface TokenRow {
  id: string;
  name: string;
  role: TokenRole;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
  queues: string[] | null;
  types: string[] | null;
}

const COLUMNS = 'id, name, role, created_at, last_used_at, revoked_at, queues, types';

function rowToToken(r: TokenRow): ApiToken {
  return {
    id: r.id,
    name: r.name,
    role: r.role,
    createdAt: new Date(r.created_at),
    lastUsedAt: r.last_used_at ? new Date(r.last_used_at) : null,
    revokedAt: r.revoked_at ? new Date(r.revoked_at) : null,
    queues: r.queues ?? null,
    types: r.types ?? null,
  };
}

/** A scope list: null or absent is no scope; a given list must name 1–100 valid names. */
function checkScope(list: unknown, field: 'queues' | 'types', role: TokenRole): string[] | null {
  if (list === undefined || list === null) return null;
  if (role !== 'worker') {
    throw new ValidationError(`${field} scopes only worker tokens; a ${role} token cannot have one`, {
      field,
    });
  }
  if (!Array.isArray(list) || list.length === 0 || list.length > 100) {
    throw new ValidationError(`${field} must list 1–100 names (omit it for no scope)`, { field });
  }
  for (const [i, n] of list.entries()) checkName(n, '', `${field}[${i}]`);
  return [...new Set(list as string[])];
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export async function createToken(db: Queryable, p: CreateTokenParams): Promise<CreatedToken> {
  if (typeof p.name !== 'string' || p.name.length === 0 || p.name.length > 100) {
    throw new ValidationError('name must be 1–100 characters', { field: 'name' });
  }
  if (!TOKEN_ROLES.includes(p.role)) {
    throw new ValidationError(`role must be one of ${TOKEN_ROLES.join(', ')}`, { field: 'role' });
  }
  const queues = checkScope(p.queues, 'queues', p.role);
  const types = checkScope(p.types, 'types', p.role);
  const id = `tok_${randomBytes(8).toString('hex')}`;
  const token = `${SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;
  const res = await db.query<TokenRow>(
    `insert into api_tokens (id, name, role, hash, queues, types)
     values ($1, $2, $3, $4, $5::text[], $6::text[]) returning ${COLUMNS}`,
    [id, p.name, p.role, hashSecret(token), queues, types],
  );
  return { ...rowToToken(res.rows[0]!), token };
}

/** The active token with this secret, or null. last_used_at is written at most once a minute per token. */
export async function verifyToken(db: Queryable, secret: string): Promise<ApiToken | null> {
  if (typeof secret !== 'string' || !secret.startsWith(SECRET_PREFIX) || secret.length > 200) return null;
  const hash = hashSecret(secret);
  const res = await db.query<TokenRow>(
    `select ${COLUMNS} from api_tokens where hash = $1 and revoked_at is null`,
    [hash],
  );
  const row = res.rows[0];
  if (!row) return null;
  if (!row.last_used_at || Date.now() - new Date(row.last_used_at).getTime() > 60_000) {
    await db.query('update api_tokens set last_used_at = now() where id = $1', [row.id]);
  }
  return rowToToken(row);
}

export async function listTokens(db: Queryable): Promise<ApiToken[]> {
  const res = await db.query<TokenRow>(`select ${COLUMNS} from api_tokens order by created_at desc, id`);
  return res.rows.map(rowToToken);
}

/**
 * Revokes a token; revoking one already revoked is a no-op. The last active admin token is
 * refused (409) unless `force`: without one, nobody can create or revoke tokens over the API.
 * Run in a transaction: the active admin rows are locked in id order first, so two revokes of
 * the two last admins at once run one after the other and the second sees the first's revoke.
 */
export async function revokeToken(tx: Queryable, id: string, opts: { force?: boolean } = {}): Promise<void> {
  const admins = opts.force
    ? []
    : (
        await tx.query<{ id: string }>(
          `select id from api_tokens where role = 'admin' and revoked_at is null order by id for update`,
        )
      ).rows.map((r) => r.id);
  const known = await tx.query<{ role: TokenRole; revoked_at: Date | null }>(
    'select role, revoked_at from api_tokens where id = $1',
    [id],
  );
  const target = known.rows[0];
  if (!target) throw new NotFoundError('token', id);
  if (target.revoked_at) return;
  if (!opts.force && target.role === 'admin' && !admins.some((a) => a !== id)) {
    throw new ConflictError(
      `token ${id} is the last active admin token: revoking it leaves nobody able to manage tokens over the API. ` +
        'Create another admin token first, or revoke it with force (API ?force=true, CLI --force, SDK { force: true })',
      { tokenId: id, lastAdmin: true },
    );
  }
  await tx.query('update api_tokens set revoked_at = now() where id = $1 and revoked_at is null', [id]);
}

export async function hasTokens(db: Queryable): Promise<boolean> {
  const res = await db.query<{ any: boolean }>(
    'select exists (select 1 from api_tokens where revoked_at is null) as any',
  );
  return res.rows[0]?.any === true;
}

/** Records which token registered a worker; set once, never changed. */
export async function bindWorkerToken(db: Queryable, workerId: string, tokenId: string): Promise<void> {
  const res = await db.query<{ id: string }>(
    'update workers set token_id = coalesce(token_id, $2) where id = $1 returning id',
    [workerId, tokenId],
  );
  if (res.rows.length === 0) throw new NotFoundError('worker', workerId);
}

/** The token bound to a worker: a string, null when registered without one, undefined when no such worker. */
export async function getWorkerTokenId(db: Queryable, workerId: string): Promise<string | null | undefined> {
  const res = await db.query<{ token_id: string | null }>('select token_id from workers where id = $1', [
    workerId,
  ]);
  return res.rows.length === 0 ? undefined : (res.rows[0]!.token_id ?? null);
}
