import type { Command } from 'commander';
import { dataDirOwner } from '../../store/pglite/lock.js';
import { action, openStoreFor } from '../context.js';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('Apply database migrations (safe to run again, and from many nodes at once)')
    .option(
      '--database-url <url>',
      'PostgreSQL (env GAFFER_DATABASE_URL); default: the embedded store',
      process.env.GAFFER_DATABASE_URL,
    )
    .option(
      '--data-dir <dir>',
      'embedded store directory (env GAFFER_DATA_DIR)',
      process.env.GAFFER_DATA_DIR ?? '.gaffer',
    )
    .option('--schema <name>', 'database schema', process.env.GAFFER_SCHEMA ?? 'gaffer')
    .action(
      action(async (f: { databaseUrl?: string; dataDir?: string; schema?: string }) => {
        const owner = f.databaseUrl ? null : dataDirOwner(f.dataDir ?? '.gaffer');
        if (owner?.url) {
          throw new Error(
            `the server at ${owner.url} (process ${owner.pid}) owns ${f.dataDir}; it applied every migration it knows when it started. ` +
              'Stop it and run migrate, or restart it (a newer gaffer migrates at start)',
          );
        }
        const store = await openStoreFor({ ...f, migrate: false, command: 'gaffer migrate' });
        try {
          const applied = await store.migrate();
          process.stdout.write(applied.length ? `applied ${applied.join(', ')}\n` : 'schema is up to date\n');
        } finally {
          await store.close();
        }
      }),
    );
}
