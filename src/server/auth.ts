import type { FastifyReply, FastifyRequest } from 'fastify';
import { GafferError } from '../core/errors.js';
import type { ApiToken, Store, TokenRole } from '../store/store.js';
import { OpenGuard } from './open-guard.js';

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
  // The docs page's scripts and styles hold nothing but the UI; the API description it loads needs a token.
  if (path.startsWith('/api/docs/static/') || path.startsWith('/api/docs/theme/')) return 'public';
  if (path.startsWith('/api/docs') || path === '/api/openapi.json') return 'any';
  if (path.startsWith('/api/') || path === '/api' || path.startsWith('/metrics')) return 'admin';
  return 'public';
}

/**
 * The docs page itself, asked for by a browser (Accept: text/html), needs no token: it asks for
 * one and sends it with its own calls. A program asking /api/docs without one gets 401.
 */
function docsPage(req: FastifyRequest, path: string): boolean {
  if (req.method !== 'GET' || (path !== '/api/docs' && path !== '/api/docs/')) return false;
  return String(req.headers.accept ?? '').includes('text/html');
}

/** How long a verified secret is trusted without asking the database (a revoke on this node clears it at once). */
const VERIFY_TTL_MS = 5000;
/** How often "do any tokens exist?" is asked again while auth is off. */
const ENABLED_TTL_MS = 2000;
const CACHE_LIMIT = 10_000;
/** Default: lookups of unknown tokens one client address may cause per minute before it gets 429. */
export const DEFAULT_AUTH_FAILURE_LIMIT = 30;
const FAILURE_WINDOW_MS = 60_000;

export interface AuthGateOptions {
  /** true: always require a token; false: never; undefined: as soon as any token exists. */
  forced?: boolean;
  /** The server listens beyond loopback: with no active token left it answers 503, not open. */
  beyondLoopback?: boolean;
  /** Unknown-token lookups per client address per minute (default 30); beyond it, 429 without a lookup. */
  failureLimit?: number;
  /** The address the server listens on (a Host it answers to while auth is off). */
  host?: string;
  /** More Host names served while auth is off (besides loopback names and `host`). */
  allowedHosts?: readonly string[];
}

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
 * when any token exists at start or later; once on, it stays on for the life of
 * the process, so revoking the last token never opens the API.
 */
export class AuthGate {
  private sticky = false;
  private checkedUntil = 0;
  private activeUntil = 0;
  private active = true;
  private readonly verified = new Map<string, { token: ApiToken; until: number }>();
  private readonly workerTokens = new Map<string, string | null>();
  private readonly failures = new Map<string, { n: number; until: number }>();
  private readonly forced: boolean | undefined;
  private readonly failureLimit: number;
  private readonly open: OpenGuard;

  constructor(
    private readonly store: Store,
    private readonly opts: AuthGateOptions = {},
  ) {
    this.forced = opts.forced;
    this.failureLimit = opts.failureLimit ?? DEFAULT_AUTH_FAILURE_LIMIT;
    this.open = new OpenGuard(opts.host ?? '127.0.0.1', opts.allowedHosts);
  }

  /** At start: tokens exist, so auth is on from the first request (not only once a request looks). */
  async arm(): Promise<void> {
    if (this.forced === undefined && (await this.store.hasTokens())) this.sticky = true;
  }

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
    this.activeUntil = 0;
    if (revokedId) for (const [k, v] of this.verified) if (v.token?.id === revokedId) this.verified.delete(k);
  }

  /** Beyond loopback, with every token revoked, nobody could use the API: say so (503), never open it. */
  private async assertReachable(): Promise<void> {
    if (!this.opts.beyondLoopback) return;
    if (Date.now() >= this.activeUntil) {
      this.active = await this.store.hasTokens();
      this.activeUntil = Date.now() + ENABLED_TTL_MS;
    }
    if (!this.active) {
      throw new GafferError(
        'unavailable',
        'this server listens beyond loopback and no active API token is left (all were revoked), so it serves no API call. ' +
          'Create an admin token in the database directly (gaffer token create --role admin --database-url ...), ' +
          'or restart it on 127.0.0.1 and create one there',
        { reason: 'no_active_token' },
      );
    }
  }

  /** Unknown tokens from one address: beyond the limit, 429 before any lookup (a guess costs no query). */
  private assertNotGuessing(ip: string, reply: FastifyReply): void {
    const f = this.failures.get(ip);
    if (!f || f.until <= Date.now() || f.n < this.failureLimit) return;
    const after = Math.ceil((f.until - Date.now()) / 1000);
    reply.header('retry-after', String(after));
    throw new GafferError(
      'rate_limited',
      `over ${this.failureLimit} requests with unknown or revoked tokens from this address in a minute; retry in ${after} s with a valid token`,
      { retryAfterSeconds: after },
    );
  }

  private failed(ip: string): void {
    const now = Date.now();
    const f = this.failures.get(ip);
    if (f && f.until > now) f.n++;
    else {
      if (this.failures.size >= CACHE_LIMIT) {
        for (const [k, v] of this.failures) if (v.until <= now) this.failures.delete(k);
        if (this.failures.size >= CACHE_LIMIT) this.failures.clear();
      }
      this.failures.set(ip, { n: 1, until: now + FAILURE_WINDOW_MS });
    }
  }

  private async verify(secret: string, ip: string, reply: FastifyReply): Promise<ApiToken | null> {
    const hit = this.verified.get(secret);
    if (hit && hit.until > Date.now()) return hit.token;
    this.assertNotGuessing(ip, reply);
    const token = await this.store.verifyToken(secret);
    if (!token) {
      this.failed(ip);
      return null;
    }
    if (this.verified.size >= CACHE_LIMIT) this.verified.clear();
    this.verified.set(secret, { token, until: Date.now() + VERIFY_TTL_MS });
    return token;
  }

  /** onRequest hook: sets request.auth, or answers 401 / 403 (429 for guessing, 503 with no token left). */
  async authenticate(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    req.auth = null;
    const path = req.url.split('?')[0] ?? '/';
    const access = docsPage(req, path) ? 'public' : (req.routeOptions.config?.access ?? defaultAccess(path));
    if (path === '/healthz' || path === '/readyz') return;
    if (!(await this.enabled())) {
      // Auth off: the guards against web pages (Host, cross-site, writes without a JSON type or header).
      this.open.check(req, access !== 'public');
      return;
    }
    if (access === 'public') return;
    await this.assertReachable();
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) {
      throw new GafferError(
        'unauthorized',
        'this server requires an API token: send the header "Authorization: Bearer <token>" (create one with `gaffer token create --role ...`)',
      );
    }
    const token = await this.verify(match[1]!, req.ip, reply);
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
