import type { Command } from 'commander';
import { ValidationError } from '../../core/errors.js';
import type { CatchUpPolicy, Json, Schedule, ScheduleTaskOptions } from '../../store/types.js';
import {
  action,
  addConnectionOptions,
  ago,
  type ConnectionFlags,
  openClient,
  printJson,
  printTable,
} from '../context.js';
import { intOption } from '../flags.js';

interface SetFlags extends ConnectionFlags {
  type: string;
  cron?: string;
  every?: number;
  tz?: string;
  payload?: string;
  queue?: string;
  priority?: number;
  maxAttempts?: number;
  timeoutMs?: number;
  catchUp?: string;
  catchUpLimit?: number;
  paused?: boolean;
}

function timing(s: Schedule): string {
  return s.cron ? `cron ${s.cron}${s.timezone === 'UTC' ? '' : ` (${s.timezone})`}` : `every ${s.everyMs} ms`;
}

function when(d: Date | null): string {
  return d ? d.toISOString() : '';
}

function printSchedules(items: Schedule[]): void {
  printTable(
    ['name', 'when', 'type', 'state', 'next run', 'last tick', 'runs', 'skipped'],
    items.map((s) => [
      s.name,
      timing(s),
      s.type,
      s.paused ? 'paused' : 'active',
      s.paused ? '' : when(s.nextRunAt),
      s.lastTickAt ? ago(s.lastTickAt) : '',
      s.runs,
      s.skipped,
    ]),
  );
}

function parsePayload(text: string | undefined): Json | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Json;
  } catch (err) {
    throw new ValidationError(`--payload is not JSON (${(err as Error).message})`, { field: 'payload' });
  }
}

/** One action on one schedule by name, printed as {"schedule"} with --json. */
function byName(parent: Command, verb: 'pause' | 'resume', description: string): void {
  addConnectionOptions(parent.command(`${verb} <name>`).description(description))
    .option('--json', 'print JSON')
    .action(
      action(async (name: string, f: ConnectionFlags) => {
        const { client, close } = await openClient(f);
        try {
          const schedule = await client.schedules[verb](name);
          if (f.json) printJson({ schedule });
          else
            process.stdout.write(
              `${name} ${schedule.paused ? 'paused' : `active, next run ${when(schedule.nextRunAt)}`}\n`,
            );
        } finally {
          await close();
        }
      }),
    );
}

export function registerScheduleCommands(program: Command): void {
  const schedules = program
    .command('schedules')
    .description('Recurring tasks: a task of a type per cron tick (in a time zone) or every N ms');

  addConnectionOptions(
    schedules.command('list', { isDefault: true }).description('List schedules with their next run'),
  )
    .option('--paused', 'only paused schedules')
    .option('--json', 'print JSON')
    .action(
      action(async (f: ConnectionFlags & { paused?: boolean }) => {
        const { client, close } = await openClient(f);
        try {
          const items: Schedule[] = [];
          let cursor: string | undefined;
          do {
            const page = await client.schedules.list({
              limit: 1000,
              cursor,
              paused: f.paused ? true : undefined,
            });
            items.push(...page.items);
            cursor = page.nextCursor ?? undefined;
          } while (cursor);
          if (f.json) printJson({ items, nextCursor: null });
          else printSchedules(items);
        } finally {
          await close();
        }
      }),
    );

  addConnectionOptions(
    schedules.command('get <name>').description('One schedule: its next runs and its history'),
  )
    .option('--json', 'print JSON')
    .action(
      action(async (name: string, f: ConnectionFlags) => {
        const { client, close } = await openClient(f);
        try {
          const schedule = await client.schedules.get(name);
          const events = await client.schedules.events(name);
          if (f.json) {
            printJson({ schedule, events });
            return;
          }
          printSchedules([schedule]);
          process.stdout.write(`upcoming: ${schedule.upcoming.map(when).join(', ') || 'none (paused)'}\n`);
          printTable(
            ['at', 'event', 'data'],
            events.map((e) => [when(e.at), e.kind, JSON.stringify(e.data)]),
          );
        } finally {
          await close();
        }
      }),
    );

  addConnectionOptions(
    schedules
      .command('set <name>')
      .description('Create or replace a schedule by name (a new timing starts from now)'),
  )
    .requiredOption('-t, --type <type>', 'task type of every task it creates')
    .option('--cron <expr>', 'cron expression, e.g. "0 2 * * *" (6 fields: seconds first)')
    .addOption(
      intOption('--every <ms>', 'every N milliseconds instead of a cron', {
        min: 1,
        max: 366 * 24 * 3600_000,
      }),
    )
    .option('--tz <zone>', 'IANA time zone the cron is read in (default UTC)')
    .option('--payload <json>', 'payload of every task')
    .option('-q, --queue <queue>', 'queue of every task')
    .addOption(intOption('--priority <n>', 'priority of every task', { min: -1_000_000, max: 1_000_000 }))
    .addOption(intOption('--max-attempts <n>', 'max attempts of every task', { min: 1, max: 1000 }))
    .addOption(
      intOption('--timeout-ms <ms>', 'per-attempt timeout of every task', { min: 1, max: 7 * 24 * 3600_000 }),
    )
    .option('--catch-up <policy>', 'ticks missed while no server ran: skip (default) or run')
    .addOption(
      intOption('--catch-up-limit <n>', 'with --catch-up run: at most this many, the newest', {
        min: 1,
        max: 1000,
      }),
    )
    .option('--paused', 'create it paused')
    .option('--json', 'print JSON')
    .action(
      action(async (name: string, f: SetFlags) => {
        const task: ScheduleTaskOptions = {};
        if (f.queue !== undefined) task.queue = f.queue;
        if (f.priority !== undefined) task.priority = f.priority;
        if (f.maxAttempts !== undefined) task.maxAttempts = f.maxAttempts;
        if (f.timeoutMs !== undefined) task.timeoutMs = f.timeoutMs;
        const { client, close } = await openClient(f);
        try {
          const out = await client.schedules.upsert(name, {
            type: f.type,
            cron: f.cron,
            everyMs: f.every,
            timezone: f.tz,
            payload: parsePayload(f.payload),
            task,
            catchUp: f.catchUp as CatchUpPolicy | undefined,
            catchUpLimit: f.catchUpLimit,
            paused: f.paused ? true : undefined,
          });
          if (f.json) printJson(out);
          else {
            const s = out.schedule;
            process.stdout.write(
              `${s.name} ${out.created ? 'created' : 'updated'}: ${timing(s)}, ${s.paused ? 'paused' : `next run ${when(s.nextRunAt)}`}\n`,
            );
          }
        } finally {
          await close();
        }
      }),
    );

  byName(schedules, 'pause', 'Pause a schedule: no ticks until it is resumed');
  byName(schedules, 'resume', 'Resume a schedule from its next tick (the paused ticks are not caught up)');

  addConnectionOptions(schedules.command('delete <name>').description('Delete a schedule (its tasks stay)'))
    .option('--json', 'print JSON')
    .action(
      action(async (name: string, f: ConnectionFlags) => {
        const { client, close } = await openClient(f);
        try {
          await client.schedules.delete(name);
          if (f.json) printJson({ deleted: name });
          else process.stdout.write(`${name} deleted\n`);
        } finally {
          await close();
        }
      }),
    );
}
