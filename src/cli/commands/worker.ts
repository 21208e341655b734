import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { createLogger } from '../../engine/logger.js';
import type { MaintenanceService } from '../../engine/maintenance.js';
import { HttpTransport } from '../../worker/http-transport.js';
import type { WorkerTransport } from '../../worker/transport.js';
import { formatSummary, type HandlerDefinition, Worker } from '../../worker/worker.js';
import { action, addConnectionOptions, DEFAULT_URL } from '../context.js';
import { intOption } from '../flags.js';

interface WorkerFlags {
  handlers?: string;
  url?: string;
  token?: string;
  databaseUrl?: string;
  concurrency: number;
  prefetch: number;
  queue?: string;
  machine?: string;
  name?: string;
  label?: string[];
  grace: number;
}

/** A handlers module: default export maps task type → handler function or {schema, handler}. */
export type HandlersModule = Record<string, HandlerDefinition | HandlerDefinition['handler']>;

export async function loadHandlers(file: string): Promise<HandlersModule> {
  const path = resolve(file);
  const url = pathToFileURL(path).href;
  // TypeScript loads through tsx's own import, which compiles the file as what its extension and
  // the nearest package.json say (ESM or CommonJS) without registering a loader for the whole process.
  const mod = (
    /\.(c|m)?tsx?$/.test(path)
      ? await (await import('tsx/esm/api')).tsImport(url, import.meta.url)
      : await import(url)
  ) as {
    default?: unknown;
    handlers?: unknown;
  };
  let handlers = (mod.default ?? mod.handlers) as HandlersModule | undefined;
  // A CommonJS module compiled from `export default` arrives as { default: { default: handlers } }.
  const inner = handlers as { __esModule?: boolean; default?: unknown; handlers?: unknown } | undefined;
  if (inner && typeof inner === 'object' && (inner.__esModule || Object.keys(inner).join() === 'default'))
    handlers = (inner.default ?? inner.handlers) as HandlersModule | undefined;
  if (!handlers || typeof handlers !== 'object' || Object.keys(handlers).length === 0) {
    throw new Error(
      `${file} must export default an object mapping task types to handlers, e.g. export default { email: async (payload) => {...} }`,
    );
  }
  return handlers;
}

function labelsOf(list: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    const i = l.indexOf('=');
    if (i <= 0) throw new Error(`--label must look like key=value, not ${JSON.stringify(l)}`);
    out[l.slice(0, i)] = l.slice(i + 1);
  }
  return out;
}

export function registerWorkerCommand(program: Command): void {
  addConnectionOptions(
    program
      .command('worker <args...>')
      .description(
        'Run handlers from a TS/JS file: `gaffer worker handlers.ts`, or claim assignment N of a session: `gaffer worker N <session> --handlers handlers.ts`',
      )
      .option(
        '--handlers <file>',
        'handlers module (for the `worker N <session>` form)',
        process.env.GAFFER_HANDLERS,
      )
      .addOption(
        intOption('-c, --concurrency <n>', 'handlers running at once', { min: 1, max: 10_000, default: 10 }),
      )
      .addOption(
        intOption('--prefetch <n>', 'extra tasks claimed ahead of free slots', {
          min: 0,
          max: 10_000,
          default: 0,
        }),
      )
      .option('-q, --queue <list>', 'queues to claim from (comma-separated; default all)')
      .option('--machine <id>', 'machine id (default: hostname; env GAFFER_MACHINE_ID)')
      .option('--name <slot>', 'slot name: a new worker with the same machine and name replaces this one')
      .option('--label <key=value...>', 'labels, e.g. --label provider=openai')
      .addOption(
        intOption('--grace <ms>', 'how long SIGTERM waits for running handlers', {
          min: 0,
          max: 86_400_000,
          default: 30_000,
        }),
      ),
  ).action(
    action(async (args: string[], f: WorkerFlags) => {
      const assignment = args.length === 2;
      if (args.length > 2)
        throw new Error(
          `worker takes a handlers file, or N and a session (gaffer worker N <session> --handlers file), not ${args.length} arguments`,
        );
      if (assignment && !/^\d+$/.test(args[0]!))
        throw new Error(
          `N in \`gaffer worker N <session>\` must be an assignment index, a whole number from 0, not ${JSON.stringify(args[0])}; to run a handlers file, give only the file: gaffer worker handlers.ts`,
        );
      const file = assignment ? f.handlers : args[0];
      if (!file) throw new Error('name the handlers file: gaffer worker N <session> --handlers handlers.ts');
      const handlers = await loadHandlers(file);
      const logger = createLogger({ name: 'gaffer-worker', pretty: 'auto' });
      let transport: WorkerTransport;
      let maintenance: MaintenanceService | null = null;
      if (f.databaseUrl && !f.url) {
        // The store's drivers load only for a direct worker: an HTTP worker needs neither pg nor PGlite.
        const [{ openStore }, { MaintenanceService }, { logStoreEvents }, { DirectTransport }] =
          await Promise.all([
            import('../../store/index.js'),
            import('../../engine/maintenance.js'),
            import('../../engine/event-log.js'),
            import('../../worker/direct-transport.js'),
          ]);
        const store = await openStore({ databaseUrl: f.databaseUrl });
        // Direct workers sweep lapsed leases themselves (one node at a time), so no server is needed.
        maintenance = new MaintenanceService(store, { logger, retentionIntervalMs: 0 });
        maintenance.start();
        // Retries, dead letters, lapsed leases and stale workers this process causes; the Worker
        // logs its own claims, completions and failures, so those store lines stay at debug.
        logStoreEvents(store, logger, {
          task_failed: 'debug',
          worker_registered: 'debug',
          worker_deregistered: 'debug',
        });
        transport = new DirectTransport(store, { ownsStore: true });
      } else {
        transport = new HttpTransport({ url: f.url ?? DEFAULT_URL, token: f.token });
      }
      const worker = new Worker({
        transport,
        logger,
        concurrency: f.concurrency,
        prefetch: f.prefetch,
        queues: f.queue?.split(','),
        machineId: f.machine ?? process.env.GAFFER_MACHINE_ID,
        name: f.name,
        labels: labelsOf(f.label),
        shutdownGraceMs: f.grace,
        handleSignals: !assignment,
      });
      for (const [type, def] of Object.entries(handlers)) worker.handle(type, def);
      if (assignment) {
        // Stopped whether the claim and run succeed or not: a refused claim (held, absent) must not
        // leave this worker registered and counted live until it goes stale.
        let task: Awaited<ReturnType<Worker['runSessionTask']>>;
        let summary: Awaited<ReturnType<Worker['stop']>>;
        try {
          task = await worker.runSessionTask(args[1]!, Number(args[0]));
        } finally {
          summary = await worker.stop();
          await maintenance?.stop();
        }
        process.stderr.write(
          `assignment ${task.sessionIndex} of session ${task.sessionId}: task ${task.id}\n`,
        );
        process.stderr.write(formatSummary(summary));
        if (summary.failed > 0) process.exitCode = 1;
        return;
      }
      await worker.start();
      process.stderr.write(
        `gaffer worker ${worker.id} running ${worker.types.join(', ')} (concurrency ${f.concurrency}); Ctrl-C to stop\n`,
      );
      process.once('SIGTERM', () => void maintenance?.stop());
      process.once('SIGINT', () => void maintenance?.stop());
    }),
  );
}
