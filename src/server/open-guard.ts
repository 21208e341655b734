import type { FastifyRequest } from 'fastify';
import { GafferError } from '../core/errors.js';

/**
 * With auth off (no token exists, loopback only) the API trusts whoever reaches it, and a web page
 * the user visits reaches it too: a cross-site POST with no body is a "simple" request the browser
 * sends without asking, and a DNS-rebinding page talks to 127.0.0.1 under its own host name. So,
 * while auth is off (issue 17, item 11):
 * - the Host header must name this server: a loopback name, the address it listens on, or one of
 *   `allowedHosts` (a rebinding page's requests carry its own host name);
 * - a request an API route answers from another site (Sec-Fetch-Site: cross-site or same-site, or
 *   an Origin naming another host) is refused;
 * - a write (POST, PUT, PATCH, DELETE) must carry Content-Type: application/json or the header
 *   X-Gaffer-Request (both make a cross-site request need a CORS preflight, which is never granted).
 */
export const REQUEST_HEADER = 'x-gaffer-request';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** "Example.com:7700" / "[::1]:7700" → "example.com" / "::1". */
function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  const colon = h.indexOf(':');
  return colon >= 0 && h.indexOf(':', colon + 1) < 0 ? h.slice(0, colon) : h;
}

export class OpenGuard {
  private readonly allowed: Set<string>;

  constructor(bindHost: string, allowedHosts: readonly string[] = []) {
    this.allowed = new Set([...LOOPBACK_NAMES, hostName(bindHost), ...allowedHosts.map(hostName)]);
  }

  private known(name: string): boolean {
    return this.allowed.has(name) || name.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(name);
  }

  /** Throws a 4xx GafferError when a request must not reach the open API; `api`: an API route, not a page. */
  check(req: FastifyRequest, api: boolean): void {
    const host = req.headers.host;
    if (typeof host !== 'string' || !this.known(hostName(host))) {
      throw new GafferError(
        'forbidden',
        `Host ${JSON.stringify(host ?? '')} is not this server's: with auth off only loopback names, the address it listens on and --allowed-hosts are served (a guard against DNS rebinding); add the name to --allowed-hosts, or create a token to turn auth on`,
        { field: 'host' },
      );
    }
    if (!api) return;
    const site = req.headers['sec-fetch-site'];
    const origin = req.headers.origin;
    let foreignOrigin = false;
    if (typeof origin === 'string' && origin !== 'null') {
      try {
        foreignOrigin = !this.known(hostName(new URL(origin).host));
      } catch {
        foreignOrigin = true;
      }
    } else if (origin === 'null') foreignOrigin = true;
    if (site === 'cross-site' || site === 'same-site' || foreignOrigin) {
      throw new GafferError(
        'forbidden',
        `a request from another site (${typeof origin === 'string' ? `Origin ${origin}` : `Sec-Fetch-Site ${site}`}) may not use this server's API while auth is off; create a token to call it from elsewhere`,
        { field: typeof origin === 'string' ? 'origin' : 'sec-fetch-site' },
      );
    }
    if (!WRITES.has(req.method)) return;
    const type = String(req.headers['content-type'] ?? '').toLowerCase();
    if (type.startsWith('application/json') || req.headers[REQUEST_HEADER] !== undefined) return;
    if (type) {
      // A form or text body (what a page may send cross-site without asking): 415, as the parser says.
      throw Object.assign(new Error('send the body as application/json'), {
        code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE',
        statusCode: 415,
      });
    }
    throw new GafferError(
      'validation',
      `${req.method} needs Content-Type: application/json or the header "X-Gaffer-Request: 1" while auth is off (a guard against cross-site requests from web pages); the SDK, CLI and dashboard send it`,
      { field: REQUEST_HEADER },
    );
  }
}
