import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { silentLogger } from '../../src/engine/logger.js';
import { buildServer, type GafferServer, type ServerOptions } from '../../src/server/app.js';
import { quoteIdent } from '../../src/store/db.js';
import { openPostgresStore, type SqlStore } from '../../src/store/index.js';
import type { StoreOptions } from '../../src/store/store.js';

export const TEST_DATABASE_URL =
  process.env.GAFFER_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Schemas made here start with this, so dropping one can never hit real data. */
const PREFIX = 'gaffer_srv_';

export function uniqueSchema(): string {
  return `${PREFIX}${randomBytes(6).toString('hex')}`;
}

/** A PostgreSQL store in a schema of its own (a fresh one unless `schema` is given). */
export async function openTestStore(
  opts: Partial<StoreOptions> & { url?: string; poolSize?: number; applicationName?: string } = {},
) {
  const { url, ...rest } = opts;
  try {
    return await openPostgresStore({
      connectionString: url ?? TEST_DATABASE_URL,
      schema: uniqueSchema(),
      ...rest,
    });
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${TEST_DATABASE_URL} (${(err as Error).message}); start it or set GAFFER_TEST_DATABASE_URL`,
    );
  }
}

export async function dropSchema(schema: string): Promise<void> {
  if (!schema.startsWith(PREFIX)) throw new Error(`refusing to drop ${schema}: not a test schema`);
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists ${quoteIdent(schema)} cascade`);
  } finally {
    await client.end();
  }
}

/** A server over `store` with maintenance off (tests drive it), quiet logs and a fast claim poll. */
export function testServer(store: SqlStore, opts: Partial<ServerOptions> = {}): Promise<GafferServer> {
  return buildServer({ store, logger: silentLogger, maintenance: false, claimPollIntervalMs: 50, ...opts });
}

// biome-ignore lint/suspicious/noExplicitAny: answers are free-form JSON, checked by each test
export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | number | undefined>;
  text: string;
}

/** app.inject with JSON in and out. */
export function client(app: FastifyInstance, defaultHeaders: Record<string, string> = {}) {
  // biome-ignore lint/suspicious/noExplicitAny: answers are free-form JSON, checked by each test
  return async function call<T = any>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    url: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer<T>> {
    const res = await app.inject({
      method,
      url,
      // As the SDK does: marks the call as a program's (the server refuses body-less writes without it while auth is off).
      headers: { 'x-gaffer-request': '1', ...defaultHeaders, ...headers },
      ...(body === undefined ? {} : { payload: body as object }),
    });
    const type = String(res.headers['content-type'] ?? '');
    const parsed = res.body && type.includes('json') ? JSON.parse(res.body) : res.body;
    return { status: res.statusCode, body: parsed as T, headers: res.headers, text: res.body };
  };
}

/** Asserts a problem+json answer with this status and code; returns its body. */
export function expectProblem(
  a: Answer,
  status: number,
  code: string,
): { detail: string; field?: string; code: string; errors?: Array<{ field: string; message: string }> } {
  if (a.status !== status || a.body?.code !== code) {
    throw new Error(`expected ${status} ${code}, got ${a.status}: ${a.text}`);
  }
  const type = String(a.headers['content-type']);
  if (!type.startsWith('application/problem+json')) throw new Error(`expected problem+json, got ${type}`);
  if (typeof a.body.detail !== 'string' || a.body.detail.length === 0)
    throw new Error('problem without detail');
  if (/\n\s+at /.test(a.text)) throw new Error(`problem carries a stack trace: ${a.text}`);
  return a.body;
}

/** Polls `fn` until it returns a truthy value (conditions, not sleeps, decide when a test moves on). */
export async function waitFor<T>(
  fn: () => Promise<T> | T,
  what: string,
  timeoutMs = 15_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const require = createRequire(import.meta.url);
const Ajv2020 = require('ajv/dist/2020').default;

export type Conformance = (method: string, path: string, a: Answer) => void;

/** Checks answers against the response schemas the OpenAPI document gives for them: the docs stay true. */
export function conformance(openapi: object): Conformance {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addFormat('date-time', true);
  ajv.addSchema(openapi, 'openapi');
  return (method, path, a) => {
    const pointer = `/paths/${path.replace(/~/g, '~0').replace(/\//g, '~1')}/${method.toLowerCase()}/responses/${a.status}/content/application~1json/schema`;
    const validate = ajv.compile({ $ref: `openapi#${pointer}` });
    if (!validate(a.body)) {
      throw new Error(
        `${method} ${path} ${a.status} does not match its OpenAPI schema: ${ajv.errorsText(validate.errors)}`,
      );
    }
  };
}
