import type { FastifyReply, FastifyRequest } from 'fastify';
import { GafferError } from '../core/errors.js';
import type { ApiToken, Store, TokenRole } from '../store/store.js';

/**
 * Who may call a route (R9.1). Routes name their access in `config.access`:
 * - public: no token (health, dashboard)
 * - read / create: admin and producer tokens
 * - worker: admin and worker tokens (the worker protocol)
 * - any: any valid token (the API docs)
 * - admin: admin tokens only
 * A route that names none is public outside /api and /metrics (dashboard, static
 * files), `any` for the API docs, and admin-only elsewhere under /api and /metrics.
 */
export type Access = 'public' | 'read' | 'create' | 'worker' | 'any' | 'admin';

const ROLES: Record<Access, readonly TokenRole[]> = {
  public: ['admin', 'producer', 'worker'],
  read: ['admin', 'producer'],
  create: ['admin', 'producer'],
  worker: ['admin', 'worker'],
  any: ['admin', 'producer', 'worker'],
  admin: ['admin'],
};

export function defaultAccess(path: string): Access {
  if (path.startsWith('/api/docs') || path === '/api/openapi.json') return 'any';
  if (path.startsWith('/api/') || path === '/api' || path.startsWith('/metrics')) return 'admin';
  return 'public';
}

/** How long a verified secret is trusted without asking the database (a revoke on this node clears it at once). */
const VERIFY_TTL_MS = 5000;
/** How often "do any tokens exist?" is asked again while auth is off. */
const ENABLED_TTL_MS = 2000;
const CACHE_LIMIT = 10_000;

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's token; null when auth is off. */
    auth: ApiToken | null;
  }
  interface FastifyContextConfig {
    access?: Access;
  }
}

/**
 * Bearer-token authentication. Auth is on when forced by the `auth` option, or
 * as soon as any token exists; once on, it stays on for the life of the
 * process, so revoking the last token never opens the API.
 */
export class AuthGate {
  private sticky = false;
  private checkedUntil = 0;
  private readonly verified = new Map<string, { token: ApiToken | null; until: number }>();
  private readonly workerTokens = new Map<string, string | null>();

  constructor(
    private readonly store: Store,
    private readonly forced: boolean | undefined,
  ) {}

  async enabled(): Promise<boolean> {
    if (this.forced !== undefined) return this.forced;
    if (this.sticky) return true;
    if (Date.now() < this.checkedUntil) return false;
    this.sticky = await this.store.hasTokens();
    this.checkedUntil = Date.now() + ENABLED_TTL_MS;
    return this.sticky;
  }

  /** A token was created or revoked on this node: look again at once. */
  changed(revokedId?: string): void {
    this.checkedUntil = 0;
    if (revokedId) for (const [k, v] of this.verified) if (v.token?.id === revokedId) this.verified.delete(k);
  }

  private async verify(secret: string): Promise<ApiToken | null> {
    const hit = this.verified.get(secret);
    if (hit && hit.until > Date.now()) return hit.token;
    const token = await this.store.verifyToken(secret);
    if (this.verified.size >= CACHE_LIMIT) this.verified.clear();
    this.verified.set(secret, { token, until: Date.now() + VERIFY_TTL_MS });
    return token;
  }

  /** onRequest hook: sets request.auth, or answers 401 / 403. */
  async authenticate(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
    req.auth = null;
    const access = req.routeOptions.config?.access ?? defaultAccess(req.url.split('?')[0] ?? '/');
    if (access === 'public') return;
    if (!(await this.enabled())) return;
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) {
      throw new GafferError(
        'unauthorized',
        'this server requires an API token: send the header "Authorization: Bearer <token>" (create one with `gaffer token create --role ...`)',
      );
    }
    const token = await this.verify(match[1]!);
    if (!token)
      throw new GafferError('unauthorized', 'the bearer token is unknown or revoked; use an active token');
    req.auth = token;
    if (!ROLES[access].includes(token.role)) {
      throw new GafferError(
        'forbidden',
        `a ${token.role} token may not ${req.method} ${req.routeOptions.url ?? req.url}; this needs ${describeAccess(access)}`,
      );
    }
  }

  /**
   * Worker-protocol calls name a worker; a worker token may act only through the
   * workers it registered (admin tokens and auth-off callers may act for any).
   */
  async assertOwnsWorker(req: FastifyRequest, workerId: string): Promise<void> {
    const token = req.auth;
    if (token?.role !== 'worker') return;
    const owner = await this.workerToken(workerId);
    // No such worker: nothing to protect; the route answers (a claim says "register again").
    if (owner !== undefined && owner !== token.id) {
      throw new GafferError(
        'forbidden',
        `worker ${workerId} was not registered with this token; a worker token acts only through the workers it registered`,
        { workerId },
      );
    }
  }

  /** The token bound to a worker (immutable once set, so cached for good). */
  async workerToken(workerId: string): Promise<string | null | undefined> {
    if (this.workerTokens.has(workerId)) return this.workerTokens.get(workerId);
    const owner = await this.store.getWorkerTokenId(workerId);
    if (owner !== undefined) {
      if (this.workerTokens.size >= CACHE_LIMIT) this.workerTokens.clear();
      this.workerTokens.set(workerId, owner);
    }
    return owner;
  }

  rememberWorker(workerId: string, tokenId: string | null): void {
    if (this.workerTokens.size >= CACHE_LIMIT) this.workerTokens.clear();
    this.workerTokens.set(workerId, tokenId);
  }
}

function describeAccess(access: Access): string {
  switch (access) {
    case 'read':
    case 'create':
      return 'an admin or producer token';
    case 'worker':
      return 'a worker or admin token';
    case 'admin':
      return 'an admin token';
    case 'any':
      return 'any valid token';
    case 'public':
      return 'no token';
  }
}

/** Who acts, for histories: the token's name when auth is on (with the caller's own label, if any). */
export function actor(req: FastifyRequest, by?: string): string {
  if (!req.auth) return by ?? 'api';
  return by ? `${by} (token ${req.auth.name})` : `token:${req.auth.name}`;
}
