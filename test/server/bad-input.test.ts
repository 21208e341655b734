import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GafferError } from '../../src/core/errors.js';
import { MAX_JSON_DEPTH } from '../../src/core/json-limits.js';
import { Batcher } from '../../src/engine/batcher.js';
import { silentLogger } from '../../src/engine/logger.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import type { SqlStore } from '../../src/store/index.js';
import { DirectTransport } from '../../src/worker/direct-transport.js';
import { HttpTransport } from '../../src/worker/http-transport.js';
import type { WorkerTransport } from '../../src/worker/transport.js';
import { Worker } from '../../src/worker/worker.js';
import { client, dropSchema, expectProblem, openTestStore, waitFor } from './helpers.js';

// Issue 17, "correctness under bad input": one bad value is refused alone, with its field named,
// and never costs another caller its write.

let store: SqlStore;
let server: RunningServer;
let call: ReturnType<typeof client>;

beforeAll(async () => {
  store = await openTestStore({ leaseMs: 30_000 });
  server = await startServer({
    store,
    port: 0,
    logger: silentLogger,
    maintenance: false,
    claimPollIntervalMs: 50,
  });
  call = client(server.app);
});

afterAll(async () => {
  await server?.close();
  await store?.close();
  if (store) await dropSchema(store.options.schema);
});

/** `levels` arrays inside each other: [[[...]]] */
function nested(levels: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}
function nestedText(levels: number): string {
  return `${'['.repeat(levels)}${']'.repeat(levels)}`;
}

async function raw(method: 'POST' | 'PUT', url: string, text: string) {
  const res = await server.app.inject({
    method,
    url,
    headers: { 'content-type': 'application/json' },
    payload: text,
  });
  return {
    status: res.statusCode,
    body: JSON.parse(res.body || 'null'),
    headers: res.headers,
    text: res.body,
  };
}

async function registerAndClaim(queue: string, n: number) {
  await call('POST', '/api/v1/tasks/bulk', {
    tasks: Array.from({ length: n }, () => ({ type: queue, queue })),
  });
  const held: Array<{ workerId: string; taskId: string; attempt: number }> = [];
  for (let i = 0; i < n; i++) {
    const reg = await call('POST', '/api/v1/worker/register', {
      machineId: `${queue}-${i}`,
      types: [queue],
      queues: [queue],
    });
    const claim = await call('POST', `/api/v1/worker/${reg.body.workerId}/claim`, { limit: 1 });
    const t = claim.body.tasks[0];
    held.push({ workerId: reg.body.workerId, taskId: t.id, attempt: t.attempt });
  }
  return held;
}

describe('one bad completion never fails its neighbours (17.1)', () => {
  it('many workers completing at once over HTTP, one with a result PostgreSQL refuses: every good task completes', async () => {
    const held = await registerAndClaim('nb-http', 30);
    const bad = held[7]!;
    const answers = await Promise.all(
      held.map((h) =>
        call('POST', `/api/v1/worker/${h.workerId}/tasks/${h.taskId}/complete`, {
          attempt: h.attempt,
          result: h === bad ? { text: 'a\u0000b' } : { ok: h.taskId },
        }),
      ),
    );
    for (const [i, a] of answers.entries()) {
      if (held[i] === bad) {
        const p = expectProblem(a, 400, 'validation');
        expect(p.field).toBe('result.text');
        expect(p.detail).toMatch(/NUL/);
      } else expect(a.status, a.text).toBe(204);
    }
    for (const h of held) {
      const t = await store.getTask(h.taskId);
      expect(t.status).toBe(h === bad ? 'running' : 'completed');
      if (h !== bad) expect(t.result).toEqual({ ok: h.taskId });
    }
  });

  it('the same through POST /worker/:id/complete with many items: refused whole, nothing applied, the bad item named', async () => {
    const held = await registerAndClaim('nb-many', 1);
    const h = held[0]!;
    const a = await call('POST', `/api/v1/worker/${h.workerId}/complete`, {
      items: [{ taskId: h.taskId, attempt: h.attempt, result: nested(MAX_JSON_DEPTH + 1) }],
    });
    const p = expectProblem(a, 400, 'validation');
    expect(p.field).toBe('items[0].result');
    expect(p.detail).toMatch(`${MAX_JSON_DEPTH} levels`);
    expect((await store.getTask(h.taskId)).status).toBe('running');
  });

  const transports: Array<[string, () => WorkerTransport]> = [
    ['HTTP', () => new HttpTransport({ url: server.url })],
    ['direct', () => new DirectTransport(store)],
  ];
  for (const [name, transport] of transports) {
    it(`a TypeScript Worker (${name}) whose handlers finish together, one with a bad result: the good attempts complete, only the bad one fails`, async () => {
      const type = `nb-worker-${name}`;
      const n = 40;
      const tasks = (
        await call('POST', '/api/v1/tasks/bulk', {
          tasks: Array.from({ length: n }, (_, i) => ({ type, queue: type, payload: { i }, maxAttempts: 1 })),
        })
      ).body.tasks as Array<{ id: string }>;
      // Every handler waits until all are running, so their completions share one batch.
      let started = 0;
      let release!: () => void;
      const barrier = new Promise<void>((r) => {
        release = r;
      });
      const w = new Worker({
        transport: transport(),
        concurrency: n,
        queues: [type],
        logger: silentLogger,
        claimWaitMs: 500,
      }).handle(type, async (p: { i: number }) => {
        if (++started === n) release();
        await barrier;
        return p.i === 13 ? { text: 'bad\u0000' } : { i: p.i };
      });
      await w.start();
      try {
        await waitFor(async () => {
          const c = await store.countTasks({ type });
          return (c.completed ?? 0) + (c.failed ?? 0) === n;
        }, `all ${n} ${type} tasks finished`);
        for (const t of tasks) {
          const got = await store.getTask(t.id);
          const i = (got.payload as { i: number }).i;
          if (i === 13) {
            expect(got.status).toBe('failed');
            expect(got.error?.message).toMatch(/result\.text contains a NUL/);
          } else {
            expect(got.status, `task ${i}: ${got.error?.message}`).toBe('completed');
            expect(got.result).toEqual({ i });
          }
        }
      } finally {
        await w.stop();
      }
    });
  }

  it('a batch whose statement still fails is retried in halves: only the bad item is refused', async () => {
    const statements: number[] = [];
    const b = new Batcher<string, string>(async (items) => {
      statements.push(items.length);
      if (items.includes('bad')) throw new GafferError('validation', 'the statement failed');
      return items.map((i) => `ok:${i}`);
    });
    const items = Array.from({ length: 64 }, (_, i) => (i === 40 ? 'bad' : `t${i}`));
    const answers = await Promise.allSettled(items.map((i) => b.add(i)));
    for (const [i, a] of answers.entries()) {
      if (i === 40) expect(a).toMatchObject({ status: 'rejected' });
      else expect(a).toEqual({ status: 'fulfilled', value: `ok:t${i}` });
    }
    // Bisection: 64, then 32 + 32, 16 + 16, ... down to the one: 1 + 2 × 6 statements.
    expect(statements.length).toBe(13);
  });

  it('a lost connection is not split into single statements (they would fail alike)', async () => {
    let statements = 0;
    const b = new Batcher<number, number>(async () => {
      statements++;
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    });
    const answers = await Promise.allSettled([1, 2, 3, 4].map((i) => b.add(i)));
    expect(answers.every((a) => a.status === 'rejected')).toBe(true);
    expect(statements).toBe(1);
  });
});

describe(`JSON nested past ${MAX_JSON_DEPTH} levels answers 400 naming the limit (17.2)`, () => {
  it(`creates at ${MAX_JSON_DEPTH} levels, refuses ${MAX_JSON_DEPTH + 1} and 100 000 on every create route`, async () => {
    const ok = await call('POST', '/api/v1/tasks', { type: 'deep', payload: nested(MAX_JSON_DEPTH) });
    expect(ok.status, ok.text).toBe(201);
    const cases: Array<[string, (levels: number) => string, string]> = [
      ['/api/v1/tasks', (l) => `{"type":"deep","payload":${nestedText(l)}}`, 'payload'],
      ['/api/v1/tasks', (l) => `{"type":"deep","metadata":{"m":${nestedText(l)}}}`, 'metadata'],
      [
        '/api/v1/tasks/bulk',
        (l) => `{"tasks":[{"type":"deep"},{"type":"deep","payload":${nestedText(l)}}]}`,
        'tasks[1].payload',
      ],
      [
        '/api/v1/sessions',
        (l) => `{"tasks":[{"type":"deep","payload":{"a":${nestedText(l)}}}]}`,
        'tasks[0].payload',
      ],
    ];
    for (const [url, body, field] of cases) {
      for (const levels of [MAX_JSON_DEPTH + 1, 100_000]) {
        const a = await raw('POST', url, body(levels));
        const p = expectProblem(a, 400, 'validation');
        expect(p.field, `${url} at ${levels}`).toBe(field);
        expect(p.detail).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
      }
    }
    expect((await store.countTasks({ type: 'deep' })).total).toBe(1);
  });

  it('refuses it on every worker write: complete, progress, state, heartbeat', async () => {
    const [h] = await registerAndClaim('deep-w', 1);
    const { workerId, taskId, attempt } = h!;
    const writes: Array<[string, string, (d: string) => string, string]> = [
      [
        'POST',
        `/api/v1/worker/${workerId}/tasks/${taskId}/complete`,
        (d) => `{"attempt":${attempt},"result":${d}}`,
        'result',
      ],
      [
        'POST',
        `/api/v1/worker/${workerId}/tasks/${taskId}/progress`,
        (d) => `{"attempt":${attempt},"progress":${d}}`,
        'progress',
      ],
      ['PUT', `/api/v1/worker/${workerId}/state`, (d) => `{"state":{"s":${d}}}`, 'state'],
      ['POST', `/api/v1/worker/${workerId}/heartbeat`, (d) => `{"state":${d}}`, 'state'],
    ];
    for (const [method, url, body, field] of writes) {
      for (const levels of [MAX_JSON_DEPTH + 1, 100_000]) {
        const a = await raw(method as 'POST', url, body(nestedText(levels)));
        const p = expectProblem(a, 400, 'validation');
        expect(p.field, `${url} at ${levels}`).toBe(field);
        expect(p.detail).toContain(`${MAX_JSON_DEPTH} levels`);
      }
    }
    expect((await store.getTask(taskId)).status).toBe('running');
  });

  it('the SDK refuses it before the database: a direct create, and a handler that returns it', async () => {
    const err = await store
      .createTasks({ tasks: [{ type: 'deep-sdk', payload: nested(5000) as never }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GafferError);
    expect((err as GafferError).details?.field).toBe('payload');
    const [t] = (await store.createTasks({ tasks: [{ type: 'deep-sdk', maxAttempts: 1 }] })).tasks;
    const w = new Worker({
      transport: new DirectTransport(store),
      logger: silentLogger,
      claimWaitMs: 200,
    }).handle('deep-sdk', async () => nested(20_000));
    await w.start();
    try {
      const done = await waitFor(async () => {
        const got = await store.getTask(t!.id);
        return got.status === 'failed' ? got : null;
      }, 'the deep result to fail its attempt');
      expect(done.error?.message).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
      expect(done.error?.message).not.toMatch(/call stack/i);
    } finally {
      await w.stop();
    }
  });
});

describe('__proto__, constructor and 1e400 (17.6)', () => {
  it('keeps __proto__ and constructor keys as plain data, anywhere in a payload or metadata, polluting nothing', async () => {
    const text =
      '{"type":"proto","payload":{"__proto__":{"admin":true},"a":[{"constructor":{"prototype":{"admin":true}}}]},' +
      '"metadata":{"__proto__":{"admin":true},"constructor":"c"}}';
    const a = await raw('POST', '/api/v1/tasks', text);
    expect(a.status, a.text).toBe(201);
    const got = await store.getTask(a.body.task.id);
    // jsonb orders keys its own way; each key is an own property holding its data.
    const own = (o: unknown, k: string) => Object.getOwnPropertyDescriptor(o, k)?.value;
    expect(own(got.payload, '__proto__')).toEqual({ admin: true });
    expect(own((got.payload as { a: unknown[] }).a[0], 'constructor')).toEqual({
      prototype: { admin: true },
    });
    expect(own(got.metadata, '__proto__')).toEqual({ admin: true });
    expect(own(got.metadata, 'constructor')).toBe('c');
    expect(({} as { admin?: boolean }).admin).toBeUndefined();
    expect(Object.getPrototypeOf(got.payload)).toBe(Object.prototype);
    // Over the API too, the key comes back as the data it was.
    const read = await server.app.inject({ method: 'GET', url: `/api/v1/tasks/${a.body.task.id}` });
    expect(read.body).toContain('"__proto__":{"admin":true}');
    expect(Object.getOwnPropertyDescriptor(JSON.parse(read.body).payload, '__proto__')?.value).toEqual({
      admin: true,
    });
  });

  it('a __proto__ key where the API expects its own fields is an unknown field, named', async () => {
    const a = await raw('POST', '/api/v1/tasks', '{"type":"proto","__proto__":{"priority":5}}');
    expect(expectProblem(a, 400, 'validation').field).toBe('__proto__');
  });

  it('refuses numbers that overflow to Infinity (1e400) naming the field, instead of storing null', async () => {
    const a = await raw('POST', '/api/v1/tasks', '{"type":"inf","payload":1e400}');
    const p = expectProblem(a, 400, 'validation');
    expect(p.field).toBe('payload');
    expect(p.detail).toMatch(/finite/);
    const b = await raw(
      'POST',
      '/api/v1/tasks/bulk',
      '{"tasks":[{"type":"inf","payload":{"x":[1,-1e999]}}]}',
    );
    expect(expectProblem(b, 400, 'validation').field).toBe('tasks[0].payload.x[1]');
    expect((await store.countTasks({ type: 'inf' })).total).toBe(0);
  });

  it('lists every bad value of a body, not only the first', async () => {
    const a = await raw(
      'POST',
      '/api/v1/tasks',
      '{"type":"many","payload":{"a":"\\u0000","b":1e400,"c":"\\ud800"}}',
    );
    const p = expectProblem(a, 400, 'validation');
    expect(p.errors?.map((e) => e.field)).toEqual(['payload.a', 'payload.b', 'payload.c']);
  });
});
