import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import type { GafferClient } from '../../client/client.js';
import type { Json, NewTask } from '../../store/types.js';
import { action, addConnectionOptions, openClient, printJson } from '../context.js';
import { intOption } from '../flags.js';

interface EnqueueFlags {
  file?: string;
  queue?: string;
  id?: string;
  idempotencyKey?: string;
  idempotencyTtlMs?: number;
  concurrencyKey?: string;
  key?: string;
  session?: string;
  user?: string;
  priority?: number;
  delay?: number;
  maxAttempts?: number;
  debounce?: string;
  throttle?: string;
  window?: number;
  batch: number;
  json?: boolean;
}

function parseJson(text: string, where: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (err) {
    throw new Error(`${where} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Streams a JSONL file in batches; each batch is one all-or-nothing call. Progress by bytes read. */
async function enqueueFile(
  client: GafferClient,
  file: string,
  f: EnqueueFlags,
  defaultType?: string,
): Promise<void> {
  const size = (await stat(file)).size;
  const batchSize = f.batch;
  const bar = new cliProgress.SingleBar(
    { format: 'enqueue |{bar}| {percentage}% | {tasks} tasks | {rate}/s', hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  const show = process.stderr.isTTY && !f.json;
  if (show) bar.start(size, 0, { tasks: 0, rate: 0 });
  const started = Date.now();
  let bytes = 0;
  let line = 0;
  let created = 0;
  let existing = 0;
  let batch: NewTask[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const res = await client.enqueueMany(batch);
    created += res.outcomes.filter((o) => o === 'created').length;
    existing += res.outcomes.filter((o) => o !== 'created').length;
    batch = [];
    const total = created + existing;
    if (show)
      bar.update(bytes, { tasks: total, rate: Math.round(total / ((Date.now() - started) / 1000 || 1)) });
  };
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const text of rl) {
    line++;
    bytes += Buffer.byteLength(text) + 1;
    if (text.trim() === '') continue;
    const obj = parseJson(text, `${file}:${line}`) as Record<string, Json>;
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj))
      throw new Error(`${file}:${line} must be a JSON object`);
    const task = { type: defaultType, queue: f.queue, concurrencyKey: f.concurrencyKey, ...obj } as NewTask;
    if (!task.type) throw new Error(`${file}:${line} has no "type" (or pass the type as the first argument)`);
    batch.push(task);
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  if (show) bar.stop();
  const summary = { created, existing, seconds: (Date.now() - started) / 1000 };
  if (f.json) printJson(summary);
  else
    process.stdout.write(
      `created ${created} tasks (${existing} already existed) in ${summary.seconds.toFixed(1)}s\n`,
    );
}

/** --debounce / --throttle with their --window, as the task's key. */
function flowKeys(f: EnqueueFlags): Pick<NewTask, 'debounce' | 'throttle'> {
  if (f.debounce !== undefined && f.throttle !== undefined) {
    throw new Error('--debounce and --throttle cannot be combined');
  }
  const key = f.debounce ?? f.throttle;
  if (key === undefined) {
    if (f.window !== undefined) throw new Error('--window goes with --debounce or --throttle');
    return {};
  }
  if (f.window === undefined)
    throw new Error(`--${f.debounce ? 'debounce' : 'throttle'} needs --window <ms>`);
  return f.debounce ? { debounce: { key, ms: f.window } } : { throttle: { key, ms: f.window } };
}

export function registerEnqueueCommand(program: Command): void {
  addConnectionOptions(
    program
      .command('enqueue [type] [payload]')
      .description('Create one task (payload as JSON), or many from a JSONL file with --file')
      .option('-f, --file <path>', 'JSONL file: one task object per line ({"type", "payload", ...})')
      .option('-q, --queue <queue>', 'queue (default "default")')
      .option('--id <id>', 'task id of your choosing (idempotent)')
      .option('--idempotency-key <key>', 'idempotency key')
      .addOption(
        intOption(
          '--idempotency-ttl-ms <ms>',
          'how long the key holds; after it the same key makes a new task',
          {
            min: 1,
            max: 10 * 366 * 86_400_000,
          },
        ),
      )
      .option(
        '--concurrency-key <key>',
        'flow control: per-key limits count running tasks of this key (with --file: the default of each line)',
      )
      .option('--key <key>', 'session key (short_id)')
      .option('--session <id>', 'session id')
      .option('--user <id>', 'user id')
      .addOption(intOption('-p, --priority <n>', 'higher runs first', { min: -1_000_000, max: 1_000_000 }))
      .addOption(
        intOption('--delay <ms>', 'run no earlier than this many milliseconds from now', {
          min: 0,
          max: 365 * 86_400_000,
        }),
      )
      .addOption(
        intOption('--max-attempts <n>', 'attempts before it is dead-lettered', { min: 1, max: 1000 }),
      )
      .option(
        '--debounce <key>',
        'one waiting task per type and key: a later create replaces it (needs --window)',
      )
      .option('--throttle <key>', 'at most one task per type and key per window (needs --window)')
      .addOption(
        intOption('--window <ms>', 'the debounce delay or throttle window', { min: 1, max: 7 * 86_400_000 }),
      )
      .addOption(
        intOption('--batch <n>', 'tasks per call with --file', { min: 1, max: 10_000, default: 1000 }),
      )
      .option('--json', 'print JSON'),
  ).action(
    action(async (type: string | undefined, payload: string | undefined, f: EnqueueFlags) => {
      const { client, close } = await openClient(f);
      try {
        if (f.file) return await enqueueFile(client, f.file, f, type);
        if (!type) throw new Error('name the task type: gaffer enqueue <type> [payload-json]');
        const res = await client.enqueueMany([
          {
            type,
            payload: payload === undefined ? null : parseJson(payload, 'payload'),
            ...flowKeys(f),
            queue: f.queue,
            id: f.id,
            idempotencyKey: f.idempotencyKey,
            idempotencyTtlMs: f.idempotencyTtlMs,
            concurrencyKey: f.concurrencyKey,
            key: f.key,
            sessionId: f.session,
            userId: f.user,
            priority: f.priority,
            delayMs: f.delay,
            maxAttempts: f.maxAttempts,
          },
        ]);
        const task = res.tasks[0]!;
        const outcome = res.outcomes[0]!;
        if (f.json) printJson({ task, outcome });
        else
          process.stdout.write(`${task.id} ${task.status}${outcome === 'created' ? '' : ` (${outcome})`}\n`);
      } finally {
        await close();
      }
    }),
  );
}
