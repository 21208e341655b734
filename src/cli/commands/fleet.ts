import type { Command } from 'commander';
import type { SessionStatus } from '../../core/states.js';
import { action, addConnectionOptions, ago, openClient, printJson, printTable, short } from '../context.js';
import { intOption } from '../flags.js';
import { printControls } from './flow.js';

export function registerFleetCommands(program: Command): void {
  addConnectionOptions(program.command('sessions').description('List sessions, newest first, with progress'))
    .option('--key <key>', 'sessions of one key (short_id)')
    .option('--user <id>', 'sessions of one user')
    .option('-s, --status <status>', 'active, completed, failed or cancelled')
    .addOption(intOption('-n, --limit <n>', 'rows per page (1-1000)', { min: 1, max: 1000, default: 50 }))
    .option('--cursor <cursor>', 'next page')
    .option('--json', 'print JSON')
    .action(
      action(
        async (f: {
          key?: string;
          user?: string;
          status?: string;
          limit: number;
          cursor?: string;
          json?: boolean;
        }) => {
          const { client, close } = await openClient(f);
          try {
            const page = await client.sessions({
              key: f.key,
              userId: f.user,
              status: f.status as SessionStatus | undefined,
              limit: f.limit,
              cursor: f.cursor,
            });
            if (f.json) {
              printJson(page);
              return;
            }
            printTable(
              ['id', 'key', 'status', 'tasks', 'progress', 'failed', 'created'],
              page.items.map((s) => [
                short(s.id, 36),
                s.key,
                s.status,
                s.taskCount,
                `${Math.round(s.progress * 100)}%`,
                s.counts.failed,
                ago(s.createdAt),
              ]),
            );
            if (page.nextCursor) process.stdout.write(`next page: --cursor ${page.nextCursor}\n`);
          } finally {
            await close();
          }
        },
      ),
    );

  addConnectionOptions(
    program.command('session <id>').description('Show a session and its tasks in index order'),
  )
    .option('--json', 'print JSON')
    .action(
      action(async (id: string, f: { json?: boolean }) => {
        const { client, close } = await openClient(f);
        try {
          const [session, tasks] = await Promise.all([client.session(id), client.sessionTasks(id)]);
          if (f.json) {
            printJson({ session, tasks });
            return;
          }
          process.stdout.write(
            `session ${session.id}  key=${session.key ?? '-'}  status=${session.status}  progress=${Math.round(session.progress * 100)}%\n`,
          );
          printTable(
            ['index', 'id', 'type', 'status', 'attempt', 'progress', 'worker'],
            tasks.map((t) => [
              t.sessionIndex,
              short(t.id, 36),
              t.type,
              t.status,
              t.attempt,
              short(JSON.stringify(t.progress ?? ''), 20),
              short(t.workerId, 36),
            ]),
          );
        } finally {
          await close();
        }
      }),
    );

  addConnectionOptions(
    program
      .command('workers')
      .description(
        'List live workers (add --stale for stale ones too), newest first; every page unless --limit',
      ),
  )
    .option('--stale', 'include stale workers')
    .addOption(intOption('-n, --limit <n>', 'one page of this many rows (1-1000)', { min: 1, max: 1000 }))
    .option('--cursor <cursor>', 'the page after this cursor (from "next page")')
    .option('--json', 'print JSON')
    .action(
      action(async (f: { stale?: boolean; limit?: number; cursor?: string; json?: boolean }) => {
        const { client, close } = await openClient(f);
        try {
          const paged = f.limit !== undefined || f.cursor !== undefined;
          const page = paged
            ? await client.listWorkers({
                includeStale: f.stale,
                limit: f.limit,
                cursor: f.cursor,
              })
            : { items: await client.workers({ includeStale: f.stale }), nextCursor: null };
          const workers = page.items;
          if (f.json) {
            printJson(page);
            return;
          }
          printTable(
            ['id', 'machine', 'name', 'state', 'types', 'processed', 'failed', 'heartbeat', 'registered'],
            workers.map((w) => [
              w.id,
              w.machineId,
              w.name,
              w.stale ? 'STALE' : 'live',
              short(w.types.join(','), 30),
              w.stats?.processed ?? 0,
              w.stats?.failed ?? 0,
              ago(w.lastHeartbeatAt),
              ago(w.registeredAt),
            ]),
          );
          if (page.nextCursor) process.stdout.write(`next page: --cursor ${page.nextCursor}\n`);
        } finally {
          await close();
        }
      }),
    );

  addConnectionOptions(
    program
      .command('stats')
      .description(
        'Queue depth, oldest waiting task, worker counts, and the queues and types paused or limited',
      ),
  )
    .option('--json', 'print JSON')
    .action(
      action(async (f: { json?: boolean }) => {
        const { client, close } = await openClient(f);
        try {
          const [counts, queues, workers, flow] = await Promise.all([
            client.count(),
            client.backend.queueStats(),
            client.countWorkers(),
            client.limits(),
          ]);
          const { live, stale } = workers;
          if (f.json) {
            printJson({ counts, queues, workers, flow });
            return;
          }
          printTable(
            [
              'queued',
              'running',
              'retrying',
              'completed',
              'failed',
              'cancelled',
              'live workers',
              'stale workers',
            ],
            [
              [
                counts.queued,
                counts.running,
                counts.retrying,
                counts.completed,
                counts.failed,
                counts.cancelled,
                live,
                stale,
              ],
            ],
          );
          printTable(
            ['queue', 'status', 'count', 'oldest waiting'],
            queues.map((q) => [
              q.queue,
              q.status,
              q.count,
              q.oldestAgeMs === null ? '' : `${(q.oldestAgeMs / 1000).toFixed(1)}s`,
            ]),
          );
          // Flow control: paused and limited queues and types, with what runs and waits on each.
          if (flow.length > 0) printControls(flow);
        } finally {
          await close();
        }
      }),
    );
}
