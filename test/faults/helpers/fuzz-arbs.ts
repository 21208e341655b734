import fc from 'fast-check';

/** Every field name the API knows, so generated bodies reach past "unknown key" checks. */
const FIELDS = [
  'type',
  'payload',
  'id',
  'queue',
  'idempotencyKey',
  'sessionId',
  'key',
  'userId',
  'priority',
  'runAt',
  'delayMs',
  'maxAttempts',
  'timeoutMs',
  'backoff',
  'metadata',
  'retry',
  'tasks',
  'filter',
  'reason',
  'avoidLastMachine',
  'avoidLabels',
  'tracking',
  'payloadSchema',
  'machineId',
  'name',
  'hostname',
  'pid',
  'version',
  'types',
  'queues',
  'concurrency',
  'labels',
  'held',
  'state',
  'stats',
  'limit',
  'index',
  'attempt',
  'leaseMs',
  'progress',
  'result',
  'error',
  'items',
  'role',
  'status',
  'taskId',
];
const QUERY_KEYS = [
  'limit',
  'cursor',
  'status',
  'type',
  'queue',
  'sessionId',
  'key',
  'userId',
  'workerId',
  'createdAfter',
  'createdBefore',
  'errorContains',
  'order',
  'includeStale',
  'afterId',
  'ids',
  'bogus',
];

/** Strings that have broken parsers, validators and databases before. */
const nasty = fc.constantFrom(
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\uffff',
  '💥'.repeat(50),
  '../../etc/passwd',
  '%00',
  '%ZZ',
  "'; drop table tasks; --",
  '$' + '{7*7}', // a template injection probe
  '<script>alert(1)</script>',
  'null',
  'NaN',
  '-1',
  '1e309',
  '2024-13-45T99:99:99Z',
  'x'.repeat(100_001),
  'é'.repeat(300),
  '__proto__',
  'constructor',
);

export const weirdString = fc.oneof(
  nasty,
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
);

/** A value of any JSON type (wrong for most fields), huge ones and deep ones included. */
export const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 3, arbitrary: weirdString },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      0,
      -1,
      1.5,
      2 ** 31,
      -(2 ** 53),
      Number.MAX_SAFE_INTEGER,
      1e308,
      true,
      false,
      null,
    ),
  },
  { weight: 1, arbitrary: fc.constant(JSON.parse(`${'['.repeat(2000)}${']'.repeat(2000)}`)) },
  { weight: 1, arbitrary: fc.constant({ __proto__: { admin: true }, constructor: { prototype: 1 } }) },
);

/** An object mostly made of real field names with wrong or borderline values. */
export const fieldyObject = fc
  .array(
    fc.tuple(
      fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...FIELDS) }, fc.string({ maxLength: 12 })),
      weirdValue,
    ),
    {
      maxLength: 6,
    },
  )
  .map((pairs) => {
    const o: Record<string, unknown> = {};
    for (const [k, v] of pairs) o[k] = k === 'waitMs' ? 0 : v;
    return o;
  });

/** A task create that is valid but for hostile values here and there (NUL in a payload string...). */
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
export const nearValidTask = fc
  .record({
    type: fc.constantFrom('fz', 'fz', 'fz.other'),
    queue: maybe(fc.constantFrom('fz', 'other')),
    payload: maybe(fc.oneof(fc.jsonValue({ maxDepth: 3 }), weirdString, fc.record({ text: weirdString }))),
    id: maybe(fc.oneof(fc.uuid(), weirdString)),
    idempotencyKey: maybe(weirdString),
    key: maybe(weirdString),
    userId: maybe(weirdString),
    priority: maybe(fc.integer()),
    delayMs: maybe(fc.integer()),
    maxAttempts: maybe(fc.integer({ min: -2, max: 2000 })),
    metadata: maybe(fc.dictionary(weirdString, weirdString, { maxKeys: 3 })),
  })
  .map((t) => Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined)));

export type FuzzBody =
  | { kind: 'json'; value: unknown }
  | { kind: 'text'; text: string; contentType: string }
  | { kind: 'none' };

export const body: fc.Arbitrary<FuzzBody> = fc.oneof(
  { weight: 3, arbitrary: nearValidTask.map((value) => ({ kind: 'json' as const, value })) },
  {
    weight: 2,
    arbitrary: fc
      .record({
        id: maybe(weirdString),
        key: maybe(weirdString),
        tasks: fc.array(nearValidTask, { maxLength: 5 }),
      })
      .map((value) => ({ kind: 'json' as const, value })),
  },
  { weight: 5, arbitrary: fieldyObject.map((value) => ({ kind: 'json' as const, value })) },
  {
    weight: 2,
    arbitrary: fc
      .array(fieldyObject, { maxLength: 4 })
      .map((tasks) => ({ kind: 'json' as const, value: { tasks, items: tasks } })),
  },
  { weight: 2, arbitrary: weirdValue.map((value) => ({ kind: 'json' as const, value })) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('text' as const),
      text: fc.oneof(
        fc.constantFrom('{', '{"type":', '[1,2', '{"a":1}}', 'nul', '\u0000', '{"type":"x",}', '"'.repeat(3)),
        fc.string({ maxLength: 30 }),
        fc.constant(`${'['.repeat(100_000)}${']'.repeat(100_000)}`),
      ),
      contentType: fc.constantFrom(
        'application/json',
        'text/plain',
        'application/xml',
        'multipart/form-data',
      ),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
);

export const query: fc.Arbitrary<Record<string, string>> = fc
  .array(fc.tuple(fc.constantFrom(...QUERY_KEYS), weirdString), { maxLength: 4 })
  .map((pairs) => Object.fromEntries(pairs.map(([k, v]) => [k, v.slice(0, 3000)])));
