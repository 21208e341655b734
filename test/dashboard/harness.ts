import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { vi } from 'vitest';
import { GafferClient } from '../../src/client/client.js';
import { silentLogger } from '../../src/engine/logger.js';
import { buildServer, type GafferServer, type ServerOptions } from '../../src/server/app.js';
import { openPgliteStore } from '../../src/store/index.js';
import type { Store, StoreOptions } from '../../src/store/store.js';
import { DirectTransport } from '../../src/worker/direct-transport.js';
import { type TaskContext, Worker, type WorkerOptions } from '../../src/worker/worker.js';
import { ensureDashboardBuilt } from './build.js';

export const CHROMIUM = process.env.GAFFER_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// The committed screenshots in docs/ change only when asked (`npm run screenshots`); an ordinary
// test run writes its screenshots to the ignored test-results/ folder, so tests leave the tree clean.
const SCREENSHOTS = fileURLToPath(
  new URL(
    process.env.GAFFER_UPDATE_SCREENSHOTS === '1'
      ? '../../docs/screenshots/'
      : '../../test-results/screenshots/',
    import.meta.url,
  ),
);

/** A real server on an embedded store, real workers on that store, and a real Chromium looking at it. */
export interface Dashboard {
  store: Store;
  client: GafferClient;
  server: GafferServer;
  url: string;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** A Worker straight on the server's store (DirectTransport), started; stopped by close(). */
  startWorker(opts: Partial<WorkerOptions>, handlers: Record<string, WorkerHandler>): Promise<Worker>;
  /** Saves a screenshot of the page to test-results/screenshots/<name>.png (docs/screenshots/ with `npm run screenshots`). */
  screenshot(name: string, opts?: { page?: Page; fullPage?: boolean }): Promise<void>;
  close(): Promise<void>;
}

/** A handler over any payload shape the test declares. */
export type WorkerHandler = (payload: never, ctx: TaskContext) => unknown;

export interface DashboardOptions {
  auth?: boolean;
  store?: Partial<StoreOptions>;
  /** Alert rules; tests evaluate them by hand with `server.alerts.evaluate()`. */
  alerts?: ServerOptions['alerts'];
}

export async function startDashboard(opts: DashboardOptions = {}): Promise<Dashboard> {
  // A browser, a server and workers share the machine with other test files: give polls and tests time.
  vi.setConfig({ testTimeout: 60_000, expect: { poll: { timeout: 10_000, interval: 50 } } });
  await ensureDashboardBuilt();
  const store = await openPgliteStore({ ...opts.store });
  const server = await buildServer({
    store,
    logger: silentLogger,
    maintenance: false,
    auth: opts.auth,
    alerts: opts.alerts,
  });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = server.app.server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const context = await browser.newContext({ viewport: { width: 1360, height: 860 }, colorScheme: 'light' });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const workers: Worker[] = [];
  return {
    store,
    client: new GafferClient(store),
    server,
    url,
    browser,
    context,
    page,
    async startWorker(wopts, handlers) {
      const w = new Worker({
        transport: new DirectTransport(store, { pollIntervalMs: 200 }),
        logger: silentLogger,
        heartbeatMs: 500,
        claimWaitMs: 1000,
        shutdownGraceMs: 2000,
        ...wopts,
      });
      for (const [type, h] of Object.entries(handlers)) w.handle(type, h as never);
      workers.push(w);
      await w.start();
      return w;
    },
    async screenshot(name, { page: p = page, fullPage = true } = {}) {
      mkdirSync(SCREENSHOTS, { recursive: true });
      // From the top, with nothing hovered: a sticky header mid-page would cover content.
      await p.mouse.move(0, 0);
      await p.evaluate('document.activeElement && document.activeElement.blur()');
      await p.evaluate(() =>
        (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0),
      );
      await p.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage, animations: 'disabled' });
    },
    async close() {
      await Promise.all(workers.map((w) => w.stop().catch(() => {})));
      await browser.close().catch(() => {});
      await server.close();
      await store.close();
    },
  };
}

/** Polls until fn returns a truthy value: tests wait on state, never on sleeps alone. */
export async function until<T>(fn: () => Promise<T> | T, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A promise with its resolve, to hold a handler until the test lets it go. */
export function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => {
    open = r;
  });
  return { promise, open };
}
