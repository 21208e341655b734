import Table from 'cli-table3';
import type { Command } from 'commander';
import { GafferClient } from '../client/client.js';
import { HttpBackend } from '../client/http-backend.js';
import { wantsColour } from '../engine/logger.js';
import type { Store, StoreOpenOptions } from '../store/index.js';
import { DataDirLockedError, dataDirOwner } from '../store/pglite/lock.js';
import type { ApiToken, CreatedToken, CreateTokenParams } from '../store/store.js';
import { checkDataDir } from './flags.js';

/** Connection flags shared by every command that talks to Gaffer. */
export interface ConnectionFlags {
  url?: string;
  token?: string;
  databaseUrl?: string;
  dataDir?: string;
  json?: boolean;
}

export function addConnectionOptions(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'Gaffer server to talk to (env GAFFER_URL)', process.env.GAFFER_URL)
    .option(
      '--token <token>',
      'API token when the server has auth on (env GAFFER_TOKEN)',
      process.env.GAFFER_TOKEN,
    )
    .option(
      '--database-url <url>',
      'talk to PostgreSQL directly instead of a server (env GAFFER_DATABASE_URL)',
      process.env.GAFFER_DATABASE_URL,
    );
}

export const DEFAULT_URL = 'http://127.0.0.1:7700';

/**
 * Opens a store, loading its drivers only now: commands that talk to a server over HTTP (and
 * --help) never pay for pg and PGlite.
 */
async function openStore(opts: StoreOpenOptions): Promise<Store> {
  return (await import('../store/index.js')).openStore(opts);
}

/** The client a command uses: straight to PostgreSQL when --database-url is given, else over HTTP. */
export async function openClient(
  flags: ConnectionFlags,
): Promise<{ client: GafferClient; close(): Promise<void> }> {
  if (flags.databaseUrl && !flags.url) {
    const store = await openStore({ databaseUrl: flags.databaseUrl });
    return { client: new GafferClient(store), close: () => store.close() };
  }
  const backend = new HttpBackend({ url: flags.url ?? DEFAULT_URL, token: flags.token });
  return { client: new GafferClient(backend), close: async () => {} };
}

/** A store for commands that must reach the database itself (migrate). */
export async function openStoreFor(flags: {
  databaseUrl?: string;
  dataDir?: string;
  schema?: string;
  migrate?: boolean;
  command?: string;
}): Promise<Store> {
  const dataDir = flags.dataDir ?? process.env.GAFFER_DATA_DIR ?? '.gaffer';
  if (!flags.databaseUrl) checkDataDir(dataDir);
  return openStore({
    databaseUrl: flags.databaseUrl,
    schema: flags.schema,
    migrate: flags.migrate,
    command: flags.command,
    dataDir,
  });
}

/** What the token commands need: the store itself, or the API of the server that owns it. */
export interface TokenAdmin {
  createToken(p: CreateTokenParams): Promise<CreatedToken>;
  listTokens(): Promise<ApiToken[]>;
  revokeToken(id: string, opts?: { force?: boolean }): Promise<void>;
  close(): Promise<void>;
}

/**
 * The store for an admin command (token, migrate), or the API of the server running on it.
 * --url goes to that server; --database-url to PostgreSQL; else the embedded data directory,
 * unless a running server owns it (its lock names its URL): then through that server's API,
 * since the embedded store has one writer.
 */
export async function openAdmin(
  flags: { url?: string; token?: string; databaseUrl?: string; dataDir?: string },
  command: string,
): Promise<{ admin: TokenAdmin; via: 'api' | 'store'; url?: string }> {
  const dataDir = flags.dataDir ?? process.env.GAFFER_DATA_DIR ?? '.gaffer';
  let url = flags.url;
  if (!url && !flags.databaseUrl) {
    const owner = dataDirOwner(dataDir);
    if (owner && !owner.url) throw new DataDirLockedError(dataDir, owner);
    if (owner?.url) {
      url = owner.url;
      process.stderr.write(
        `the server at ${url} (process ${owner.pid}) owns ${dataDir}: going through its API
`,
      );
    }
  }
  if (url) {
    const backend = new HttpBackend({ url, token: flags.token });
    return {
      via: 'api',
      url,
      admin: {
        createToken: (p) => withTokenHint(backend.createToken(p)),
        listTokens: () => withTokenHint(backend.listTokens()),
        revokeToken: (id, o) => withTokenHint(backend.revokeToken(id, o)),
        close: async () => {},
      },
    };
  }
  const store = await openStore({ databaseUrl: flags.databaseUrl, dataDir, command });
  return {
    via: 'store',
    admin: {
      createToken: (p) => store.createToken(p),
      listTokens: () => store.listTokens(),
      revokeToken: (id, o) => store.revokeToken(id, o),
      close: () => store.close(),
    },
  };
}

async function withTokenHint<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === 'unauthorized' && e.message) {
      e.message += ' (pass an admin token with --token or GAFFER_TOKEN)';
    }
    throw err;
  }
}

export function printTable(head: string[], rows: Array<Array<string | number | null | undefined>>): void {
  if (rows.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const colour = wantsColour(process.stdout);
  const table = new Table({ head, style: colour ? { head: ['cyan'] } : { head: [], border: [] } });
  for (const r of rows) table.push(r.map((c) => (c === null || c === undefined ? '' : String(c))));
  process.stdout.write(`${table.toString()}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function ago(d: Date | string | null | undefined): string {
  if (!d) return '';
  const ms = Date.now() - new Date(d).getTime();
  if (ms < 0) return `in ${Math.round(-ms / 1000)}s`;
  if (ms < 60_000) return `${Math.round(ms / 1000)}s ago`;
  if (ms < 3600_000) return `${Math.round(ms / 60_000)}m ago`;
  if (ms < 86_400_000) return `${Math.round(ms / 3600_000)}h ago`;
  return `${Math.round(ms / 86_400_000)}d ago`;
}

export function short(s: string | null | undefined, n = 40): string {
  if (!s) return '';
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/**
 * Runs a command body, printing a GafferError's message (not a stack) and exiting non-zero; with
 * --json the error is one JSON line on stderr: {"error":{"code","message"}}.
 */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      const e = err as { code?: string; message?: string; details?: { errors?: unknown } };
      const message = describeError(err);
      // A refused request names every invalid field (RFC 9457 `errors`): one line each.
      const errors = Array.isArray(e.details?.errors)
        ? (e.details.errors as Array<{ field?: unknown; message?: unknown }>).filter(
            (x) => typeof x?.field === 'string' && typeof x?.message === 'string',
          )
        : [];
      if (process.argv.includes('--json'))
        process.stderr.write(
          `${JSON.stringify({ error: { code: e.code ?? 'error', message, ...(errors.length ? { errors } : {}) } })}\n`,
        );
      else {
        process.stderr.write(`error${e.code ? ` (${e.code})` : ''}: ${message}\n`);
        if (errors.length > 1) for (const x of errors) process.stderr.write(`  ${x.field}: ${x.message}\n`);
      }
      process.exitCode = 1;
    }
  };
}

/** A readable message for anything thrown: an Error's message, a thrown object's own message, else its JSON. */
export function describeError(err: unknown): string {
  if (err instanceof Error && err.message) return err.message;
  if (typeof err === 'string') return err;
  if (err && typeof err === 'object') {
    const m = (err as { message?: unknown }).message;
    if (typeof m === 'string' && m) return m;
    try {
      const text = JSON.stringify(err);
      if (text && text !== '{}') return text;
    } catch {
      // circular: fall through
    }
  }
  return String(err);
}
