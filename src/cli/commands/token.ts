import type { Command } from 'commander';
import type { TokenRole } from '../../store/store.js';
import { action, ago, openAdmin, printJson, printTable } from '../context.js';

const ROLES: TokenRole[] = ['admin', 'producer', 'worker'];

interface AdminFlags {
  url?: string;
  token?: string;
  databaseUrl?: string;
  dataDir?: string;
  json?: boolean;
}

function adminOptions(cmd: Command): Command {
  return cmd
    .option(
      '--url <url>',
      'go through this server’s API (env GAFFER_URL; needs an admin --token once tokens exist)',
      process.env.GAFFER_URL,
    )
    .option(
      '--token <token>',
      'admin API token, when going through a server (env GAFFER_TOKEN)',
      process.env.GAFFER_TOKEN,
    )
    .option(
      '--database-url <url>',
      'PostgreSQL (env GAFFER_DATABASE_URL); default: the embedded store',
      process.env.GAFFER_DATABASE_URL,
    )
    .option(
      '--data-dir <dir>',
      'embedded store directory (env GAFFER_DATA_DIR); when a server runs on it, the command goes through that server',
      process.env.GAFFER_DATA_DIR ?? '.gaffer',
    )
    .option('--json', 'print JSON');
}

/** "a,b" → ["a", "b"]; absent → undefined (no scope). */
function list(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function registerTokenCommands(program: Command): void {
  const token = program
    .command('token')
    .description('API tokens: once one exists, the server requires a token on every API call');

  adminOptions(token.command('create').description('Create a token; its secret is printed once'))
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .option('--name <name>', 'a label to recognise it by', 'token')
    .option('--queues <a,b>', 'worker tokens: its workers claim (and read and complete) only these queues')
    .option('--types <x,y>', 'worker tokens: its workers claim only these task types')
    .action(
      action(async (f: AdminFlags & { role: string; name: string; queues?: string; types?: string }) => {
        if (!ROLES.includes(f.role as TokenRole)) {
          throw new Error(`--role must be one of ${ROLES.join(', ')}, not ${JSON.stringify(f.role)}`);
        }
        if ((f.queues !== undefined || f.types !== undefined) && f.role !== 'worker') {
          throw new Error('--queues and --types scope worker tokens only (use --role worker)');
        }
        const { admin } = await openAdmin(f, 'gaffer token create');
        try {
          const created = await admin.createToken({
            name: f.name,
            role: f.role as TokenRole,
            queues: list(f.queues),
            types: list(f.types),
          });
          if (f.json) {
            const { token: secret, ...record } = created;
            printJson({ token: record, secret });
            return;
          }
          const scope = [
            created.queues ? `queues ${created.queues.join(', ')}` : '',
            created.types ? `types ${created.types.join(', ')}` : '',
          ]
            .filter(Boolean)
            .join('; ');
          process.stdout.write(
            `created ${created.role} token ${created.id} (${created.name})${scope ? `, scoped to ${scope}` : ''}. Its secret, shown only now:\n\n  ${created.token}\n\nSend it as: Authorization: Bearer <secret>\n`,
          );
        } finally {
          await admin.close();
        }
      }),
    );

  adminOptions(token.command('list').description('List tokens (never their secrets)')).action(
    action(async (f: AdminFlags) => {
      const { admin } = await openAdmin(f, 'gaffer token list');
      try {
        const tokens = await admin.listTokens();
        if (f.json) {
          printJson({ items: tokens, nextCursor: null });
          return;
        }
        printTable(
          ['id', 'name', 'role', 'scope', 'created', 'last used', 'revoked'],
          tokens.map((t) => [
            t.id,
            t.name,
            t.role,
            [t.queues ? `queues: ${t.queues.join(',')}` : '', t.types ? `types: ${t.types.join(',')}` : '']
              .filter(Boolean)
              .join(' '),
            ago(t.createdAt),
            ago(t.lastUsedAt),
            ago(t.revokedAt),
          ]),
        );
      } finally {
        await admin.close();
      }
    }),
  );

  adminOptions(token.command('revoke <id>').description('Revoke a token at once'))
    .option('--force', 'revoke even the last active admin token (nobody can then manage tokens over the API)')
    .action(
      action(async (id: string, f: AdminFlags & { force?: boolean }) => {
        const { admin } = await openAdmin(f, 'gaffer token revoke');
        try {
          await admin.revokeToken(id, { force: f.force === true });
          if (f.json) printJson({ matched: 1, changed: 1, items: [] });
          else process.stdout.write(`revoked ${id}\n`);
        } finally {
          await admin.close();
        }
      }),
    );
}
