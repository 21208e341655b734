import { buildServer, DEFAULT_HOST, DEFAULT_PORT, type GafferServer, type ServerOptions } from './app.js';
import { isLoopback } from './loopback.js';

export interface RunningServer extends GafferServer {
  /** Base URL, e.g. http://127.0.0.1:7700 */
  url: string;
  port: number;
}

/** Raised when the server refuses to start as configured; the message says what to change. */
export class ServeRefusedError extends Error {
  override name = 'ServeRefusedError';
}

export { isLoopback };

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
    const url = `http://${shownHost}:${boundPort}`;
    // Admin commands on this machine reach it over loopback, even when it listens on every address.
    const local = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : shownHost;
    server.store.advertiseServer?.(`http://${local}:${boundPort}`);
    return { ...server, url, port: boundPort };
  } catch (err) {
    await server.close().catch(() => {});
    throw err;
  }
}
