import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GafferClient } from '../../src/client/client.js';
import { HttpBackend } from '../../src/client/http-backend.js';
import { GafferError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/engine/logger.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import type { SqlStore } from '../../src/store/index.js';
import { client, dropSchema, expectProblem, openTestStore, waitFor } from './helpers.js';

// Issue 17, items 3–5: a task type's payload schema names every invalid field, cannot be made to
// freeze the event loop by its patterns, and compiles on its own (an `$id` can change, on every node).

const run = promisify(execFile);

let storeA: SqlStore;
let storeB: SqlStore;
let nodeA: RunningServer;
let nodeB: RunningServer;
let a: ReturnType<typeof client>;
let b: ReturnType<typeof client>;

beforeAll(async () => {
  storeA = await openTestStore();
  storeB = await openTestStore({ schema: storeA.options.schema });
  const opts = { port: 0, logger: silentLogger, maintenance: false as const, claimPollIntervalMs: 50 };
  nodeA = await startServer({ ...opts, store: storeA });
  nodeB = await startServer({ ...opts, store: storeB });
  a = client(nodeA.app);
  b = client(nodeB.app);
});

afterAll(async () => {
  await nodeA?.close();
  await nodeB?.close();
  await storeA?.close();
  await storeB?.close();
  if (storeA) await dropSchema(storeA.options.schema);
});

const signup = {
  type: 'object',
  required: ['email', 'name', 'age'],
  properties: {
    email: { type: 'string', format: 'email' },
    name: { type: 'string', minLength: 1 },
    age: { type: 'integer', minimum: 0 },
    tags: { type: 'array', items: { type: 'string' } },
  },
  additionalProperties: false,
};

describe('a payload refused by its type’s schema names every invalid field (17.3)', () => {
  beforeAll(async () => {
    expect((await a('PUT', '/api/v1/task-types/signup', { payloadSchema: signup })).status).toBe(200);
  });

  it('lists all three missing fields in errors, with a detail summarising them', async () => {
    const r = await a('POST', '/api/v1/tasks', { type: 'signup', payload: {} });
    const p = expectProblem(r, 400, 'validation');
    expect(p.errors).toEqual([
      { field: 'payload.email', message: 'is required' },
      { field: 'payload.name', message: 'is required' },
      { field: 'payload.age', message: 'is required' },
    ]);
    expect(p.field).toBe('payload.email');
    expect(p.detail).toMatch(
      /^3 fields do not match the schema of task type signup: payload.email is required; payload.name/,
    );
  });

  it('lists wrong types, extra fields and fields of several tasks of a bulk create', async () => {
    const r = await a('POST', '/api/v1/tasks/bulk', {
      tasks: [
        { type: 'signup', payload: { email: 'x@example.com', name: 'A', age: 1 } },
        { type: 'signup', payload: { email: 'not-an-email', name: '', age: -1, tags: [1], extra: true } },
      ],
    });
    const p = expectProblem(r, 400, 'validation');
    expect(p.errors?.map((e) => e.field).sort()).toEqual(
      [
        'tasks[1].payload.age',
        'tasks[1].payload.email',
        'tasks[1].payload.extra',
        'tasks[1].payload.name',
        'tasks[1].payload.tags[0]',
      ].sort(),
    );
    expect((await storeA.countTasks({ type: 'signup' })).total ?? 0).toBe(0);
  });

  it('the SDK’s error carries the list', async () => {
    const gaffer = new GafferClient(new HttpBackend({ url: nodeA.url }));
    const err = await gaffer.enqueue('signup', { name: 'A' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GafferError);
    expect((err as GafferError).details?.errors).toEqual([
      { field: 'payload.email', message: 'is required' },
      { field: 'payload.age', message: 'is required' },
    ]);
  });

  it('the CLI prints every field, one a line', async () => {
    const r = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'enqueue', 'signup', '{"name":""}', '--url', nodeA.url],
      {
        env: { ...process.env, GAFFER_LOG_LEVEL: 'silent', NO_COLOR: '1' },
        timeout: 60_000,
      },
    ).catch((e: { stderr: string; code: number }) => e);
    expect((r as { code: number }).code).toBe(1);
    const err = (r as { stderr: string }).stderr;
    expect(err).toContain('error (validation): 3 fields do not match the schema of task type signup');
    expect(err).toContain('  payload.email: is required');
    expect(err).toContain('  payload.name: must NOT have fewer than 1 characters');
    expect(err).toContain('  payload.age: is required');
  });
});

describe('a schema pattern cannot freeze the event loop (17.4)', () => {
  it('validates ^(a+)+$ in linear time: a long adversarial payload is answered at once, and so is everyone else', async () => {
    const put = await a('PUT', '/api/v1/task-types/redos', {
      payloadSchema: { type: 'object', properties: { s: { type: 'string', pattern: '^(a+)+$' } } },
    });
    expect(put.status, put.text).toBe(200);
    // A backtracking engine takes about 2^n steps on n a's and a b: 34 is minutes, 100 000 is forever.
    for (const n of [34, 100_000]) {
      const began = Date.now();
      const created = a('POST', '/api/v1/tasks', { type: 'redos', payload: { s: `${'a'.repeat(n)}b` } });
      const other = await a('GET', '/healthz');
      const otherMs = Date.now() - began;
      const r = await created;
      const totalMs = Date.now() - began;
      expect(other.status).toBe(200);
      expect(expectProblem(r, 400, 'validation').field).toBe('payload.s');
      // Generous bounds on a shared machine: the backtracking version needs minutes.
      expect(otherMs, 'another request waited on the validation').toBeLessThan(3000);
      expect(totalMs).toBeLessThan(5000);
    }
    expect((await a('POST', '/api/v1/tasks', { type: 'redos', payload: { s: 'aaaa' } })).status).toBe(201);
  });

  it('patternProperties run on the same engine', async () => {
    const put = await a('PUT', '/api/v1/task-types/redos-keys', {
      payloadSchema: { type: 'object', patternProperties: { '^(a|a)+$': { type: 'integer' } } },
    });
    expect(put.status).toBe(200);
    const began = Date.now();
    const r = await a('POST', '/api/v1/tasks', {
      type: 'redos-keys',
      payload: { [`${'a'.repeat(40)}`]: 'x' },
    });
    expect(expectProblem(r, 400, 'validation').field).toBe(`payload.${'a'.repeat(40)}`);
    expect(Date.now() - began).toBeLessThan(5000);
  });

  it('refuses a pattern RE2 cannot run (a backreference), naming payloadSchema', async () => {
    const r = await a('PUT', '/api/v1/task-types/backref', {
      payloadSchema: { type: 'string', pattern: '^(a)\\1$' },
    });
    const p = expectProblem(r, 400, 'validation');
    expect(p.field).toBe('payloadSchema');
    expect(p.detail).toMatch(/RE2/);
  });
});

describe('a schema with $id compiles on its own and can change, on every node (17.5)', () => {
  const v1 = {
    $id: 'https://example.com/order',
    type: 'object',
    required: ['sku'],
    properties: { sku: { type: 'string' } },
  };
  const v2 = {
    $id: 'https://example.com/order',
    type: 'object',
    required: ['sku', 'qty'],
    properties: { sku: { type: 'string' }, qty: { type: 'integer' } },
  };

  it('changes a schema with $id, and node B (which compiled v1) enforces v2 without a restart', async () => {
    expect((await a('PUT', '/api/v1/task-types/order', { payloadSchema: v1 })).status).toBe(200);
    // Node B compiles v1.
    expect((await b('POST', '/api/v1/tasks', { type: 'order', payload: { sku: 'x' } })).status).toBe(201);
    // The same $id, changed: compiles on A.
    const changed = await a('PUT', '/api/v1/task-types/order', { payloadSchema: v2 });
    expect(changed.status, changed.text).toBe(200);
    expect(
      expectProblem(
        await a('POST', '/api/v1/tasks', { type: 'order', payload: { sku: 'x' } }),
        400,
        'validation',
      ).field,
    ).toBe('payload.qty');
    // B reads the new version once its cached config expires (2 s) and compiles it.
    await waitFor(
      async () => {
        const r = await b('POST', '/api/v1/tasks', { type: 'order', payload: { sku: 'y' } });
        return r.status === 400 && r.body.field === 'payload.qty';
      },
      'node B to enforce v2',
      10_000,
    );
    const ok = await b('POST', '/api/v1/tasks', { type: 'order', payload: { sku: 'y', qty: 2 } });
    expect(ok.status, ok.text).toBe(201);
  });

  it('two types may use the same $id with different schemas', async () => {
    expect(
      (await a('PUT', '/api/v1/task-types/order-copy', { payloadSchema: { ...v1, required: [] } })).status,
    ).toBe(200);
    expect((await a('POST', '/api/v1/tasks', { type: 'order-copy', payload: {} })).status).toBe(201);
    expect(
      expectProblem(await a('POST', '/api/v1/tasks', { type: 'order', payload: {} }), 400, 'validation')
        .field,
    ).toBe('payload.sku');
  });
});
