import { createHash, randomBytes } from 'node:crypto';
import { NotFoundError, ValidationError } from '../../core/errors.js';
import type { Queryable } from '../db.js';
import type { ApiToken, CreatedToken, TokenRole } from '../store.js';

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
}

const COLUMNS = 'id, name, role, created_at, last_used_at, revoked_at';

function rowToToken(r: TokenRow): ApiToken {
  return {
    id: r.id,
    name: r.name,
    role: r.role,
    createdAt: new Date(r.created_at),
    lastUsedAt: r.last_used_at ? new Date(r.last_used_at) : null,
    revokedAt: r.revoked_at ? new Date(r.revoked_at) : null,
  };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export async function createToken(
  db: Queryable,
  p: { name: string; role: TokenRole },
): Promise<CreatedToken> {
  if (typeof p.name !== 'string' || p.name.length === 0 || p.name.length > 100) {
    throw new ValidationError('name must be 1–100 characters', { field: 'name' });
  }
  if (!TOKEN_ROLES.includes(p.role)) {
    throw new ValidationError(`role must be one of ${TOKEN_ROLES.join(', ')}`, { field: 'role' });
  }
  const id = `tok_${randomBytes(8).toString('hex')}`;
  const token = `${SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;
  const res = await db.query<TokenRow>(
    `insert into api_tokens (id, name, role, hash) values ($1, $2, $3, $4) returning ${COLUMNS}`,
    [id, p.name, p.role, hashSecret(token)],
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

/** Revokes a token; revoking one already revoked is a no-op. */
export async function revokeToken(db: Queryable, id: string): Promise<void> {
  const res = await db.query<{ id: string }>(
    'update api_tokens set revoked_at = coalesce(revoked_at, now()) where id = $1 returning id',
    [id],
  );
  if (res.rows.length === 0) throw new NotFoundError('token', id);
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
