import type { Command } from 'commander';
import type { TokenRole } from '../../store/store.js';
import { action, ago, openStoreFor, printJson, printTable } from '../context.js';

const ROLES: TokenRole[] = ['admin', 'producer', 'worker'];

function storeOptions(cmd: Command): Command {
  return cmd
    .option(
      '--database-url <url>',
      'PostgreSQL (env GAFFER_DATABASE_URL); default: the embedded store',
      process.env.GAFFER_DATABASE_URL,
    )
    .option(
      '--data-dir <dir>',
      'embedded store directory (env GAFFER_DATA_DIR); stop the server first: the embedded store has one writer',
      process.env.GAFFER_DATA_DIR ?? '.gaffer',
    )
    .option('--json', 'print JSON');
}

export function registerTokenCommands(program: Command): void {
  const token = program
    .command('token')
    .description('API tokens: once one exists, the server requires a token on every API call');

  storeOptions(token.command('create').description('Create a token; its secret is printed once'))
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .option('--name <name>', 'a label to recognise it by', 'token')
    .action(
      action(
        async (f: { role: string; name: string; databaseUrl?: string; dataDir?: string; json?: boolean }) => {
          if (!ROLES.includes(f.role as TokenRole)) {
            throw new Error(`--role must be one of ${ROLES.join(', ')}, not ${JSON.stringify(f.role)}`);
          }
          const store = await openStoreFor(f);
          try {
            const created = await store.createToken({ name: f.name, role: f.role as TokenRole });
            if (f.json) {
              const { token: secret, ...record } = created;
              printJson({ token: record, secret });
              return;
            }
            process.stdout.write(
              `created ${created.role} token ${created.id} (${created.name}). Its secret, shown only now:\n\n  ${created.token}\n\nSend it as: Authorization: Bearer <secret>\n`,
            );
          } finally {
            await store.close();
          }
        },
      ),
    );

  storeOptions(token.command('list').description('List tokens (never their secrets)')).action(
    action(async (f: { databaseUrl?: string; dataDir?: string; json?: boolean }) => {
      const store = await openStoreFor(f);
      try {
        const tokens = await store.listTokens();
        if (f.json) {
          printJson({ items: tokens, nextCursor: null });
          return;
        }
        printTable(
          ['id', 'name', 'role', 'created', 'last used', 'revoked'],
          tokens.map((t) => [t.id, t.name, t.role, ago(t.createdAt), ago(t.lastUsedAt), ago(t.revokedAt)]),
        );
      } finally {
        await store.close();
      }
    }),
  );

  storeOptions(token.command('revoke <id>').description('Revoke a token at once')).action(
    action(async (id: string, f: { databaseUrl?: string; dataDir?: string; json?: boolean }) => {
      const store = await openStoreFor(f);
      try {
        await store.revokeToken(id);
        if (f.json) printJson({ matched: 1, changed: 1, items: [] });
        else process.stdout.write(`revoked ${id}\n`);
      } finally {
        await store.close();
      }
    }),
  );
}
