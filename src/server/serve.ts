import { isIP } from 'node:net';
import { buildServer, DEFAULT_HOST, DEFAULT_PORT, type GafferServer, type ServerOptions } from './app.js';

export interface RunningServer extends GafferServer {
  /** Base URL, e.g. http://127.0.0.1:7700 */
  url: string;
  port: number;
}

/** Raised when the server refuses to start as configured; the message says what to change. */
export class ServeRefusedError extends Error {
  override name = 'ServeRefusedError';
}

/** Loopback addresses: only this machine can reach a server bound to one. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return h.slice(7).startsWith('127.');
  return false;
}

/**
 * Builds the server and listens. Without API tokens anyone who can reach the
 * address can use the API, so a non-loopback host is refused until a token
 * exists (R9.1) — or when auth is turned off outright.
 */
export async function startServer(opts: ServerOptions = {}): Promise<RunningServer> {
  const host = opts.host ?? DEFAULT_HOST;
  const port = opts.port ?? DEFAULT_PORT;
  const server = await buildServer(opts);
  try {
    if (!isLoopback(host)) {
      if (opts.auth === false) {
        throw new ServeRefusedError(
          `refusing to listen on ${host} with auth turned off: anyone who can reach it could use the API. ` +
            'Listen on 127.0.0.1, or turn auth on.',
        );
      }
      if (!(await server.store.hasTokens())) {
        throw new ServeRefusedError(
          `refusing to listen on ${host}: no API tokens exist, so anyone who can reach it could use the API. ` +
            'Create one first (gaffer token create --name admin --role admin), or listen on 127.0.0.1.',
        );
      }
    }
    const address = await server.app.listen({ host, port });
    const actual = server.app.server.address();
    const boundPort = typeof actual === 'object' && actual ? actual.port : port;
    server.app.log.info(
      { event: 'server_listening', address, store: server.store.kind },
      `Gaffer listening on ${address}`,
    );
    const shownHost = host.includes(':') ? `[${host}]` : host;
    return { ...server, url: `http://${shownHost}:${boundPort}`, port: boundPort };
  } catch (err) {
    await server.close().catch(() => {});
    throw err;
  }
}
