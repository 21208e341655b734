import { type Command, Option } from 'commander';
import type { TaskStatus } from '../../core/states.js';
import type { ListTasksParams, Task } from '../../store/types.js';
import { WAIT_FILTERS } from '../../store/wait-types.js';
import { action, addConnectionOptions, ago, openClient, printJson, printTable, short } from '../context.js';
import { intOption } from '../flags.js';

interface ListFlags {
  status?: string;
  type?: string;
  queue?: string;
  session?: string;
  key?: string;
  user?: string;
  worker?: string;
  error?: string;
  waitingOn?: string;
  limit: number;
  cursor?: string;
  json?: boolean;
}

function filtersOf(f: ListFlags): ListTasksParams {
  const split = (v?: string) => (v ? v.split(',') : undefined);
  return {
    status: split(f.status) as TaskStatus[] | undefined,
    type: split(f.type),
    queue: split(f.queue),
    sessionId: f.session,
    key: f.key,
    userId: f.user,
    workerId: f.worker,
    errorContains: f.error,
    waitingOn: f.waitingOn as ListTasksParams['waitingOn'],
    limit: f.limit,
    cursor: f.cursor,
  };
}

function withFilters(cmd: Command): Command {
  return addConnectionOptions(cmd)
    .option('-s, --status <list>', 'queued,running,retrying,completed,failed,cancelled (comma-separated)')
    .option('-t, --type <list>', 'task types (comma-separated)')
    .option('-q, --queue <list>', 'queues (comma-separated)')
    .option('--session <id>', 'tasks of one session, in index order')
    .option('--key <key>', 'session key (short_id)')
    .option('--user <id>', 'user id')
    .option('--worker <id>', 'worker id')
    .option('--error <text>', 'last error message contains this text')
    .addOption(new Option('--waiting-on <reason>', 'tasks that wait for this reason').choices(WAIT_FILTERS))
    .addOption(intOption('-n, --limit <n>', 'rows per page (1-1000)', { min: 1, max: 1000, default: 50 }))
    .option('--cursor <cursor>', 'next page: the cursor printed under the previous one')
    .option('--json', 'print JSON instead of a table');
}

function printTasks(items: Task[], nextCursor: string | null, json?: boolean): void {
  if (json) {
    printJson({ items, nextCursor });
    return;
  }
  printTable(
    ['id', 'type', 'queue', 'status', 'attempt', 'session#', 'worker', 'updated', 'error'],
    items.map((t) => [
      short(t.id, 36),
      t.type,
      t.queue,
      t.status,
      `${t.attempt}/${t.maxAttempts + t.attemptFloor}`,
      t.sessionId ? `${short(t.sessionId, 12)}#${t.sessionIndex}` : '',
      short(t.workerId, 12),
      ago(t.updatedAt),
      short(t.error?.message, 40),
    ]),
  );
  if (nextCursor) process.stdout.write(`next page: --cursor ${nextCursor}\n`);
}

export function registerTaskCommands(program: Command): void {
  withFilters(
    program.command('tasks').description('List tasks, newest first (a session’s tasks by index)'),
  ).action(
    action(async (f: ListFlags) => {
      const { client, close } = await openClient(f);
      try {
        const page = await client.list(filtersOf(f));
        printTasks(page.items, page.nextCursor, f.json);
      } finally {
        await close();
      }
    }),
  );

  withFilters(program.command('failed').description('List dead letters: tasks that ended failed')).action(
    action(async (f: ListFlags) => {
      const { client, close } = await openClient(f);
      try {
        const page = await client.deadLetters(filtersOf(f));
        printTasks(page.items, page.nextCursor, f.json);
      } finally {
        await close();
      }
    }),
  );

  addConnectionOptions(program.command('task <id>').description('Show one task with its event history'))
    .option('--json', 'print JSON')
    .action(
      action(async (id: string, f: { json?: boolean }) => {
        const { client, close } = await openClient(f);
        try {
          const task = await client.get(id);
          const [events, waitingOn] = await Promise.all([client.events(id), client.waitingOn(id)]);
          if (f.json) {
            printJson({ task, events, waitingOn });
            return;
          }
          const { payload, result, error, progress, retryHistory, ...rest } = task;
          printJson({ ...rest, payload, result, error, progress, retryHistory });
          if (waitingOn?.length) {
            console.log('waiting on:');
            for (const w of waitingOn) console.log(`  ${w.reason}: ${w.message}`);
          }
          printTable(
            ['at', 'attempt', 'event', 'worker', 'data'],
            events.map((e) => [
              e.at.toISOString?.() ?? String(e.at),
              e.attempt,
              e.kind,
              short(e.workerId, 12),
              e.data ? short(JSON.stringify(e.data), 60) : '',
            ]),
          );
        } finally {
          await close();
        }
      }),
    );
}
