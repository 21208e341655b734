import type { Command } from 'commander';
import { createLogger } from '../../engine/logger.js';
import { DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT } from '../../server/app.js';
import { startServer } from '../../server/serve.js';
import { openStore } from '../../store/index.js';
import { DEFAULT_STORE_OPTIONS } from '../../store/store.js';
import { action } from '../context.js';
import { startDemo } from '../demo.js';
import { checkDataDir, intOption } from '../flags.js';

interface ServeFlags {
  host: string;
  port: number;
  dataDir: string;
  databaseUrl?: string;
  schema?: string;
  demo?: boolean;
  retentionDays: number;
  leaseMs?: number;
  staleAfterMs?: number;
  auth?: boolean;
  alertWebhookUrl?: string;
  allowedHosts?: string;
}

const DAY_MS = 86_400_000;

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description(
      'Run the server: API, worker protocol, dashboard and maintenance (flags win over environment)',
    )
    .option(
      '--host <host>',
      'address to listen on (env GAFFER_HOST)',
      process.env.GAFFER_HOST ?? DEFAULT_HOST,
    )
    .addOption(
      intOption('--port <port>', 'port, 0 picks a free one', {
        min: 0,
        max: 65_535,
        env: 'GAFFER_PORT',
        default: DEFAULT_PORT,
      }),
    )
    .option(
      '--data-dir <dir>',
      'embedded store directory (env GAFFER_DATA_DIR)',
      process.env.GAFFER_DATA_DIR ?? DEFAULT_DATA_DIR,
    )
    .option(
      '--database-url <url>',
      'use PostgreSQL instead (env GAFFER_DATABASE_URL)',
      process.env.GAFFER_DATABASE_URL,
    )
    .option('--schema <name>', 'database schema (env GAFFER_SCHEMA)', process.env.GAFFER_SCHEMA)
    .addOption(
      intOption(
        '--retention-days <days>',
        'remove finished tasks, closed sessions and stale workers older than this',
        { min: 1, max: 36_500, env: 'GAFFER_RETENTION_DAYS', default: 7 },
      ),
    )
    .addOption(
      intOption('--lease-ms <ms>', 'lease of a claimed task, renewed by heartbeats (1 s to 24 h)', {
        min: 1000,
        max: DAY_MS,
        env: 'GAFFER_LEASE_MS',
      }),
    )
    .addOption(
      intOption('--stale-after-ms <ms>', 'a worker without heartbeat this long is stale (1 s to 7 days)', {
        min: 1000,
        max: 7 * DAY_MS,
        env: 'GAFFER_STALE_AFTER_MS',
      }),
    )
    .option(
      '--allowed-hosts <a,b>',
      'Host names served while auth is off, besides loopback names and --host (env GAFFER_ALLOWED_HOSTS)',
      process.env.GAFFER_ALLOWED_HOSTS,
    )
    .option('--no-auth', 'never require tokens (only allowed on a loopback address)')
    .option(
      '--alert-webhook-url <url>',
      'POST firing and resolved alerts here as JSON (env GAFFER_ALERT_WEBHOOK_URL)',
      process.env.GAFFER_ALERT_WEBHOOK_URL,
    )
    .option('--demo', 'also run sample workers and a sample workload (what `npm start` does)')
    .action(
      action(async (f: ServeFlags) => {
        // The demo runs a task every few hundred milliseconds; one log line per task event would bury the
        // banner, so it logs warnings (failures, dead letters, stale workers) unless a level is asked for.
        const quietDemo = f.demo && !process.env.GAFFER_LOG_LEVEL;
        const logger = createLogger({
          name: 'gaffer-server',
          pretty: 'auto',
          level: quietDemo ? 'warn' : undefined,
        });
        if (!f.databaseUrl) checkDataDir(f.dataDir);
        const lease = f.leaseMs ?? DEFAULT_STORE_OPTIONS.leaseMs;
        const stale = f.staleAfterMs ?? DEFAULT_STORE_OPTIONS.staleAfterMs;
        const heartbeat = Math.min(10_000, Math.floor(lease / 3));
        if (stale <= heartbeat)
          throw new Error(
            `--stale-after-ms ${stale} must be longer than the heartbeat interval (${heartbeat} ms: a third of --lease-ms ${lease}, at most 10 s), or every worker goes stale between heartbeats`,
          );
        const store = await openStore({
          databaseUrl: f.databaseUrl,
          dataDir: f.dataDir,
          schema: f.schema,
          command: 'gaffer serve',
          leaseMs: f.leaseMs,
          staleAfterMs: f.staleAfterMs,
        });
        const server = await startServer({
          store,
          host: f.host,
          port: f.port,
          logger,
          auth: f.auth === false ? false : undefined,
          allowedHosts: f.allowedHosts
            ?.split(',')
            .map((h) => h.trim())
            .filter(Boolean),
          maintenance: { retentionMs: f.retentionDays * DAY_MS },
          alerts: { webhookUrl: f.alertWebhookUrl || undefined },
        }).catch(async (err) => {
          await store.close();
          throw err;
        });
        const demo = f.demo ? await startDemo(store, logger) : null;
        const where =
          store.kind === 'pglite'
            ? `embedded store in ${f.dataDir} (survives a crash of this process, not power loss: PGlite does not fsync; use --database-url for PostgreSQL)`
            : 'PostgreSQL';
        process.stderr.write(
          [
            '',
            `Gaffer is running on ${where}`,
            `  dashboard   ${server.url}/`,
            `  API docs    ${server.url}/api/docs`,
            `  metrics     ${server.url}/metrics`,
            `  health      ${server.url}/healthz`,
            demo
              ? '  sample workload: two workers, tasks that succeed, retry, report progress and dead-letter'
              : '',
            '  try         npx gaffer tasks --status failed   ·   npx gaffer workers   ·   npx gaffer stats',
            '',
          ].join('\n'),
        );
        let stopping = false;
        const stop = async () => {
          if (stopping) return;
          stopping = true;
          process.stderr.write('stopping…\n');
          await demo?.stop();
          await server.close();
          await store.close();
        };
        process.once('SIGINT', () => void stop());
        process.once('SIGTERM', () => void stop());
      }),
    );
}
