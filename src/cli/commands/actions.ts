import type { Command } from 'commander';
import type { Task, TaskFilter } from '../../store/types.js';
import { action, addConnectionOptions, openClient, printJson } from '../context.js';

interface BulkFlags {
  session?: string;
  type?: string;
  error?: string;
  reason?: string;
  by?: string;
  avoidMachine?: boolean;
  json?: boolean;
}

/** What an action answers with --json: the tasks changed by id, and the counts of all it matched. */
function actionResult() {
  const value = { matched: 0, changed: 0, items: [] as Task[] };
  return {
    value,
    add(t: Task) {
      value.items.push(t);
      value.matched++;
      value.changed++;
    },
    count(res: { matched: number; changed: number }) {
      value.matched += res.matched;
      value.changed += res.changed;
    },
  };
}

function bulkFilter(f: BulkFlags): TaskFilter | null {
  if (!f.session && !f.type && !f.error) return null;
  return { sessionId: f.session, type: f.type?.split(','), errorContains: f.error };
}

function withBulk(cmd: Command): Command {
  return addConnectionOptions(cmd)
    .option('--session <id>', 'every matching task of this session')
    .option('--type <list>', 'every matching task of these types')
    .option('--error <text>', 'every matching task whose last error contains this text')
    .option('--reason <text>', 'why (kept in the task history)')
    .option('--by <who>', 'who asks (kept in the task history)', process.env.USER ?? 'cli')
    .option('--json', 'print JSON');
}

export function registerActionCommands(program: Command): void {
  withBulk(
    program
      .command('retry [ids...]')
      .description('Retry failed or cancelled tasks by id, or all matching a filter'),
  )
    .option('--avoid-machine', 'keep the retry off the machine whose attempt failed last')
    .action(
      action(async (ids: string[], f: BulkFlags) => {
        const { client, close } = await openClient(f);
        try {
          const filter = bulkFilter(f);
          if (ids.length === 0 && !filter)
            throw new Error('name task ids, or a filter: --session, --type or --error');
          const out = actionResult();
          for (const id of ids) {
            const t = await client.retry(id, {
              by: f.by,
              reason: f.reason,
              avoidLastMachine: f.avoidMachine,
            });
            out.add(t);
            if (!f.json) process.stdout.write(`${t.id}: ${t.status} (manual retry ${t.manualRetries})\n`);
          }
          if (filter) {
            const res = await client.retryMany(
              { ...filter, status: 'failed' },
              { by: f.by, reason: f.reason },
            );
            out.count(res);
            if (!f.json)
              process.stdout.write(`retried ${res.changed} of ${res.matched} matching failed tasks\n`);
          }
          if (f.json) printJson(out.value);
        } finally {
          await close();
        }
      }),
    );

  withBulk(
    program.command('cancel [ids...]').description('Cancel tasks by id, or all unfinished matching a filter'),
  ).action(
    action(async (ids: string[], f: BulkFlags) => {
      const { client, close } = await openClient(f);
      try {
        const filter = bulkFilter(f);
        if (ids.length === 0 && !filter)
          throw new Error('name task ids, or a filter: --session, --type or --error');
        const out = actionResult();
        for (const id of ids) {
          const t = await client.cancel(id, { by: f.by, reason: f.reason });
          out.add(t);
          const note = t.status === 'running' ? ' (the worker is told at its next heartbeat)' : '';
          if (!f.json) process.stdout.write(`${t.id}: ${t.status}${note}\n`);
        }
        if (filter) {
          const res = await client.cancelMany(filter, { by: f.by, reason: f.reason });
          out.count(res);
          if (!f.json) process.stdout.write(`cancelled ${res.changed} of ${res.matched} matching tasks\n`);
        }
        if (f.json) printJson(out.value);
      } finally {
        await close();
      }
    }),
  );

  addConnectionOptions(
    program
      .command('delete <kind> <id>')
      .description('Delete a task, session or worker (kind: task|session|worker)'),
  )
    .option('--json', 'print JSON')
    .action(
      action(async (kind: string, id: string, f: { json?: boolean }) => {
        const { client, close } = await openClient(f);
        try {
          if (kind === 'task') await client.delete(id);
          else if (kind === 'session') await client.deleteSession(id);
          else if (kind === 'worker') await client.deleteWorker(id);
          else throw new Error(`kind must be task, session or worker, not ${JSON.stringify(kind)}`);
          if (f.json) printJson({ matched: 1, changed: 1, items: [] });
          else process.stdout.write(`deleted ${kind} ${id}\n`);
        } finally {
          await close();
        }
      }),
    );

  addConnectionOptions(
    program
      .command('release [taskId]')
      .description('Release held session entries: one task’s, or every entry of --key and --type'),
  )
    .option('--key <key>', 'session key (short_id)')
    .option('--type <type>', 'task type')
    .option('--json', 'print JSON')
    .action(
      action(
        async (
          taskId: string | undefined,
          f: { key?: string; type?: string; url?: string; token?: string; json?: boolean },
        ) => {
          const { client, close } = await openClient(f);
          try {
            let n: number;
            if (taskId) n = await client.release({ taskId });
            else if (f.key && f.type) n = await client.release({ key: f.key, type: f.type });
            else throw new Error('name a task id, or both --key and --type');
            if (f.json) printJson({ matched: n, changed: n, items: [] });
            else process.stdout.write(`released ${n} entr${n === 1 ? 'y' : 'ies'}\n`);
          } finally {
            await close();
          }
        },
      ),
    );
}
