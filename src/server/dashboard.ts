import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** The package root: the nearest folder above this file with Gaffer's package.json (works from src/ and dist/). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === '@gafferhq/gaffer')
          return dir;
      } catch {
        // not ours; keep climbing
      }
    }
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gaffer</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}code{background:#eee;padding:.1rem .3rem}</style>
</head><body>
<h1>Gaffer</h1>
<p>The server is running, but the dashboard is missing.</p>
<p><strong>dashboard not built: run npm run build:web</strong>, then reload this page.</p>
<p>Meanwhile: the API is under <a href="/api/v1/stats">/api/v1</a>, its docs at <a href="/api/docs">/api/docs</a>,
health at <a href="/healthz">/healthz</a>.</p>
</body></html>`;

export interface Dashboard {
  /** Answers a GET that matched no route with the dashboard's index.html (SPA routing); false if not applicable. */
  fallback(req: FastifyRequest, reply: FastifyReply): boolean;
}

const STATIC_FILE =
  /\.(?:js|mjs|css|map|html|png|jpe?g|gif|svg|ico|webp|avif|woff2?|ttf|otf|json|txt|webmanifest)$/i;

function isPage(req: FastifyRequest): boolean {
  const path = req.url.split('?')[0] ?? '/';
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  if (path.startsWith('/api') || path.startsWith('/metrics') || path === '/healthz' || path === '/readyz')
    return false;
  // A missing file (an asset, favicon) is a 404, not the app. Page paths may hold dots (task ids like
  // `order.42` or even `report.json`), so only top-level names and /assets/ count as files.
  const isFile = STATIC_FILE.test(path) && (path.startsWith('/assets/') || path.lastIndexOf('/') === 0);
  return !isFile;
}

/**
 * Serves the built dashboard (web/dist) at `/`, with index.html for any other
 * page path so client-side routes survive a reload; a plain page saying how to
 * build it when it is absent. Static files need no token: the data they show
 * comes from the API, which does.
 */
export async function registerDashboard(
  app: FastifyInstance,
  opts: { dir?: string } = {},
): Promise<Dashboard> {
  const dir = opts.dir ?? join(packageRoot(), 'web', 'dist');
  if (existsSync(join(dir, 'index.html'))) {
    await app.register(fastifyStatic, { root: dir, prefix: '/', wildcard: true, index: ['index.html'] });
    return {
      fallback(req, reply) {
        if (!isPage(req)) return false;
        void reply.type('text/html; charset=utf-8').sendFile('index.html');
        return true;
      },
    };
  }
  app.get('/', { schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/html; charset=utf-8').send(NOT_BUILT),
  );
  return {
    fallback(req, reply) {
      if (!isPage(req)) return false;
      void reply.code(200).type('text/html; charset=utf-8').send(NOT_BUILT);
      return true;
    },
  };
}
