import http from 'node:http';
import https from 'node:https';
import { GafferError, type GafferErrorCode } from '../core/errors.js';

export interface HttpOptions {
  /** Base URL of a Gaffer server, e.g. http://127.0.0.1:7700 */
  url: string;
  /** API token, when the server has auth on. */
  token?: string;
  /** Per-request timeout in ms (default 30 s; a long-poll claim adds its wait). */
  timeoutMs?: number;
  /** How often a 429 is retried after its Retry-After (default 3). */
  rateLimitRetries?: number;
}

export type Query = Record<string, string | number | boolean | Date | string[] | undefined | null>;

const CODES: readonly GafferErrorCode[] = [
  'validation',
  'not_found',
  'conflict',
  'illegal_transition',
  'lease_lost',
  'retry_limit',
  'not_eligible',
  'worker_not_live',
  'unauthorized',
  'forbidden',
  'payload_too_large',
  'rate_limited',
  'unavailable',
];

interface Raw {
  status: number;
  retryAfter: string | undefined;
  text: string;
}

/**
 * JSON over HTTP to a Gaffer server. Problem documents come back as GafferError
 * with the server's `code`, so callers handle errors the same over either
 * transport. Requests go through node:http with a keep-alive agent: measured on
 * Node 20, fetch costs three to six times the CPU per request, and a worker
 * drains at the rate its round trips allow.
 */
export class HttpCaller {
  readonly base: string;
  private readonly target: URL;
  private readonly mod: typeof http | typeof https;
  private readonly agent: http.Agent;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly retries: number;

  constructor(opts: HttpOptions) {
    // `http://host`, `http://host/` and `http://host/api/v1` all name the same server.
    const url = opts.url.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
    this.target = new URL(url);
    if (this.target.protocol !== 'http:' && this.target.protocol !== 'https:') {
      throw new GafferError('validation', `url must be http:// or https://, not ${opts.url}`, {
        field: 'url',
      });
    }
    this.base = `${url}/api/v1`;
    this.mod = this.target.protocol === 'https:' ? https : http;
    // Idle sockets are dropped after 30 s, well before the server's keep-alive timeout (72 s),
    // so a request never lands on a socket the server is closing.
    this.agent = new this.mod.Agent({ keepAlive: true, timeout: 30_000 });
    // Marks every call as a program's, not a web page's: with auth off the server refuses
    // writes that carry neither this header nor a JSON body (a cross-site form or beacon).
    this.headers = { accept: 'application/json', 'x-gaffer-request': '1' };
    if (opts.token) this.headers.authorization = `Bearer ${opts.token}`;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.retries = opts.rateLimitRetries ?? 3;
  }

  async call<R>(
    method: string,
    path: string,
    opts: { body?: unknown; query?: Query; signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<R> {
    const fullPath = `${this.target.pathname.replace(/\/+$/, '')}/api/v1${path}${queryString(opts.query)}`;
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    for (let attempt = 0; ; attempt++) {
      const res = await this.send(method, fullPath, body, opts.signal, opts.timeoutMs ?? this.timeoutMs);
      if (res.status === 204) return undefined as R;
      if (res.status >= 200 && res.status < 300) return (res.text ? JSON.parse(res.text) : undefined) as R;
      if (res.status === 429 && attempt < this.retries) {
        const after = Number(res.retryAfter ?? '1');
        await sleep(Math.min(60, Number.isFinite(after) ? after : 1) * 1000, opts.signal);
        if (opts.signal?.aborted) throw opts.signal.reason;
        continue;
      }
      throw toError(res.status, res.text);
    }
  }

  /** One request; a keep-alive socket that the server closed just before we used it is retried once. */
  private async send(
    method: string,
    path: string,
    body: string | undefined,
    signal: AbortSignal | undefined,
    timeoutMs: number,
  ) {
    try {
      return await this.once(method, path, body, signal, timeoutMs);
    } catch (err) {
      if (
        (err as { reusedSocket?: boolean }).reusedSocket &&
        (err as { code?: string }).code === 'ECONNRESET'
      ) {
        return this.once(method, path, body, signal, timeoutMs);
      }
      throw this.unreachable(err, signal);
    }
  }

  private once(
    method: string,
    path: string,
    body: string | undefined,
    signal: AbortSignal | undefined,
    timeoutMs: number,
  ): Promise<Raw> {
    return new Promise<Raw>((resolve, reject) => {
      const headers: Record<string, string | number> = { ...this.headers };
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const req = this.mod.request(
        {
          protocol: this.target.protocol,
          hostname: this.target.hostname,
          port: this.target.port,
          path,
          method,
          headers,
          agent: this.agent,
          signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            clearTimeout(timer);
            const retry = res.headers['retry-after'];
            resolve({
              status: res.statusCode ?? 0,
              retryAfter: Array.isArray(retry) ? retry[0] : retry,
              text: Buffer.concat(chunks).toString('utf8'),
            });
          });
          res.on('error', (err) => {
            clearTimeout(timer);
            reject(err);
          });
        },
      );
      const timer = setTimeout(
        () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })),
        timeoutMs,
      );
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(Object.assign(err, { reusedSocket: req.reusedSocket }));
      });
      req.end(body);
    });
  }

  private unreachable(err: unknown, signal: AbortSignal | undefined): unknown {
    if (signal?.aborted) return signal.reason ?? err;
    const e = err as { code?: string; message?: string };
    return new GafferError(
      'unavailable',
      `cannot reach the Gaffer server at ${this.base} (${e.code ?? e.message})`,
      {
        url: this.base,
      },
    );
  }

  /** Closes idle keep-alive connections (a worker's transport calls this when it stops). */
  close(): void {
    this.agent.destroy();
  }
}

export function queryString(q: Query | undefined): string {
  if (!q) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    const s = v instanceof Date ? v.toISOString() : Array.isArray(v) ? v.join(',') : String(v);
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(s)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** A problem document (or any error answer) as the GafferError the server raised. */
export function toError(status: number, text: string): GafferError {
  let body: { code?: string; detail?: string; field?: string; [k: string]: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // not JSON: a proxy's page, say
  }
  const code = CODES.includes(body.code as GafferErrorCode)
    ? (body.code as GafferErrorCode)
    : status === 401
      ? 'unauthorized'
      : status === 403
        ? 'forbidden'
        : status === 404
          ? 'not_found'
          : status === 413
            ? 'payload_too_large'
            : status === 429
              ? 'rate_limited'
              : status >= 500
                ? 'unavailable'
                : 'validation';
  const detail = body.detail ?? (text.slice(0, 500) || `HTTP ${status}`);
  const { type: _t, title: _ti, detail: _d, code: _c, ...rest } = body;
  return new GafferError(code, detail, { ...rest, status });
}
