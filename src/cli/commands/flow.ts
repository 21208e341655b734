import { type Command, InvalidArgumentError } from 'commander';
import type { FlowSelector } from '../../client/client.js';
import type { FlowControl, RateLimit } from '../../store/flow-types.js';
import { action, addConnectionOptions, openClient, printJson, printTable } from '../context.js';
import { parseIntIn } from '../flags.js';

interface TargetFlags {
  queue?: string;
  type?: string;
  json?: boolean;
  url?: string;
  token?: string;
  databaseUrl?: string;
}

interface LimitFlags extends TargetFlags {
  concurrency?: number;
  keyConcurrency?: number;
  rate?: RateLimit;
  keyRate?: RateLimit;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `60/1m`, `500/1s`, `5/250ms`, `10/2000` (ms): at most N starts per interval. */
export function parseRate(v: string): RateLimit {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*(ms|s|m|h)?\s*$/.exec(v);
  if (!m) throw new InvalidArgumentError('must be N/interval, e.g. 60/1m, 500/1s or 5/250ms');
  const limit = parseIntIn(m[1]!, 1, 10_000);
  const intervalMs = Number(m[2]) * UNITS[m[3] ?? 'ms']!;
  if (!Number.isSafeInteger(intervalMs) || intervalMs < 1 || intervalMs > 24 * 3_600_000)
    throw new InvalidArgumentError('the interval must be from 1 ms to 24 h');
  return { limit, intervalMs };
}

function target(f: TargetFlags): FlowSelector {
  if ((f.queue === undefined) === (f.type === undefined))
    throw new Error('name one of --queue <name> or --type <name>');
  return f.queue !== undefined ? { queue: f.queue } : { type: f.type! };
}

function withTarget(cmd: Command): Command {
  return addConnectionOptions(cmd)
    .option('--queue <name>', 'the queue (every type in it)')
    .option('--type <name>', 'the task type (in every queue)')
    .option('--json', 'print JSON');
}

function rateText(r: RateLimit | null): string {
  if (!r) return '-';
  const i = r.intervalMs;
  const unit =
    i % 3_600_000 === 0
      ? `${i / 3_600_000}h`
      : i % 60_000 === 0
        ? `${i / 60_000}m`
        : i % 1000 === 0
          ? `${i / 1000}s`
          : `${i}ms`;
  return `${r.limit}/${unit}`;
}

function describe(c: FlowControl): string {
  const parts = [
    c.paused ? `paused${c.pausedBy ? ` by ${c.pausedBy}` : ''}` : 'running',
    c.concurrency !== null ? `concurrency ${c.concurrency}` : null,
    c.keyConcurrency !== null ? `per key ${c.keyConcurrency}` : null,
    c.rate ? `rate ${rateText(c.rate)}` : null,
    c.keyRate ? `rate per key ${rateText(c.keyRate)}` : null,
    c.rateLimitedUntil ? `rate-limited until ${c.rateLimitedUntil.toISOString()}` : null,
  ];
  return `${c.scope} ${c.name}: ${parts.filter(Boolean).join(', ')}; ${c.running} running, ${c.waiting} waiting`;
}

export function printControls(items: FlowControl[]): void {
  if (items.length === 0) {
    process.stdout.write('no queue or type is paused or limited\n');
    return;
  }
  printTable(
    [
      'scope',
      'name',
      'paused',
      'concurrency',
      'per key',
      'rate',
      'rate per key',
      'running',
      'waiting',
      'keys at limit',
      'rate-limited until',
    ],
    items.map((c) => [
      c.scope,
      c.name,
      c.paused ? 'yes' : 'no',
      c.concurrency ?? '-',
      c.keyConcurrency ?? '-',
      rateText(c.rate),
      rateText(c.keyRate),
      c.running,
      c.waiting,
      c.keyConcurrency !== null || c.keyRate ? c.keysAtLimit + c.keysRateLimited : '-',
      c.rateLimitedUntil?.toISOString() ?? '-',
    ]),
  );
}

export function registerFlowCommands(program: Command): void {
  withTarget(
    program
      .command('pause')
      .description('Pause a queue or task type: nothing new is claimed, running tasks finish'),
  )
    .option('--by <who>', 'who paused it (shown with the pause)', process.env.USER ?? 'cli')
    .action(
      action(async (f: TargetFlags & { by?: string }) => {
        const t = target(f);
        const { client, close } = await openClient(f);
        try {
          const control = await client.pause(t, { by: f.by });
          if (f.json) printJson({ control });
          else process.stdout.write(`${describe(control)}\n`);
        } finally {
          await close();
        }
      }),
    );

  withTarget(program.command('resume').description('Resume a paused queue or task type')).action(
    action(async (f: TargetFlags) => {
      const t = target(f);
      const { client, close } = await openClient(f);
      try {
        const control = await client.resume(t);
        if (f.json) printJson({ control });
        else
          process.stdout.write(
            control
              ? `${describe(control)}\n`
              : `${t.queue !== undefined ? `queue ${t.queue}` : `type ${t.type}`}: running, no limits\n`,
          );
      } finally {
        await close();
      }
    }),
  );

  const limits = program
    .command('limits')
    .description('Flow control: the paused and limited queues and types (list), set or clear their limits');

  withTarget(
    limits
      .command('list', { isDefault: true })
      .description('Every paused or limited queue and type, with running and waiting tasks'),
  ).action(
    action(async (f: TargetFlags) => {
      const { client, close } = await openClient(f);
      try {
        const items = await client.limits(
          f.queue !== undefined || f.type !== undefined ? target(f) : undefined,
        );
        if (f.json) printJson({ items, nextCursor: null });
        else printControls(items);
      } finally {
        await close();
      }
    }),
  );

  const count = (v: string) => parseIntIn(v, 1, 1_000_000);
  withTarget(
    limits.command('set').description("Set a queue's or type's limits (every limit not named is removed)"),
  )
    .option('--concurrency <n>', 'at most n running at once across the fleet', count)
    .option('--key-concurrency <n>', 'at most n running per concurrency key', count)
    .option('--rate <n/interval>', 'at most n starts per interval, e.g. 500/1s or 60/1m', parseRate)
    .option('--key-rate <n/interval>', 'at most n starts per concurrency key per interval', parseRate)
    .action(
      action(async (f: LimitFlags) => {
        const t = target(f);
        const { client, close } = await openClient(f);
        try {
          const control = await client.setLimits(t, {
            concurrency: f.concurrency ?? null,
            keyConcurrency: f.keyConcurrency ?? null,
            rate: f.rate ?? null,
            keyRate: f.keyRate ?? null,
          });
          if (f.json) printJson({ control });
          else process.stdout.write(`${describe(control)}\n`);
        } finally {
          await close();
        }
      }),
    );

  withTarget(limits.command('clear').description("Remove a queue's or type's limits (a pause stays)")).action(
    action(async (f: TargetFlags) => {
      const t = target(f);
      const { client, close } = await openClient(f);
      try {
        const cleared = await client.clearLimits(t);
        if (f.json) printJson({ cleared });
        else process.stdout.write(cleared ? 'limits removed\n' : 'it had no limits\n');
      } finally {
        await close();
      }
    }),
  );
}
