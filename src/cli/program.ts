import { Command } from 'commander';
import { registerActionCommands } from './commands/actions.js';
import { registerBenchCommand } from './commands/bench.js';
import { registerEnqueueCommand } from './commands/enqueue.js';
import { registerFleetCommands } from './commands/fleet.js';
import { registerFlowCommands } from './commands/flow.js';
import { registerMigrateCommand } from './commands/migrate.js';
import { registerScheduleCommands } from './commands/schedules.js';
import { registerServeCommand } from './commands/serve.js';
import { registerSignalCommand } from './commands/signal.js';
import { registerTaskCommands } from './commands/tasks.js';
import { registerTokenCommands } from './commands/token.js';
import { registerWorkerCommand } from './commands/worker.js';

/** The `gaffer` command line, with every command registered. */
export function buildProgram(): Command {
  const program = new Command()
    .name('gaffer')
    .description('Durable task orchestration: queue, sessions, worker fleet, API and dashboard')
    .version('0.1.0')
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `
Most commands talk to a running server (default http://127.0.0.1:7700; --url or GAFFER_URL),
or straight to PostgreSQL with --database-url (GAFFER_DATABASE_URL).

Examples:
  gaffer serve                                  server + dashboard on the embedded store (./.gaffer)
  gaffer serve --database-url postgres://localhost/app
  gaffer worker ./handlers.ts --concurrency 20  run handlers (default export: { type: handler })
  gaffer worker 3 <session> --handlers ./study.ts   claim and run assignment 3 of a session
  gaffer enqueue email.send '{"to":"ada@example.com"}'
  gaffer enqueue --file tasks.jsonl             many tasks, with a progress bar
  gaffer failed --type email.send               dead letters
  gaffer retry --error "SMTP timeout" --reason "provider recovered"
  gaffer workers --stale
  gaffer limits set --queue llm --concurrency 20 --key-rate 60/1m   flow control, fleet-wide
  gaffer pause --queue llm                      nothing new of the queue is claimed until resume
  gaffer schedules set nightly --type report.build --cron "0 2 * * *" --tz Europe/Berlin
  gaffer bench --quick                          benchmark against graphile-worker, pg-boss, BullMQ`,
    );

  registerServeCommand(program);
  registerMigrateCommand(program);
  registerWorkerCommand(program);
  registerEnqueueCommand(program);
  registerTaskCommands(program);
  registerFleetCommands(program);
  registerActionCommands(program);
  registerSignalCommand(program);
  registerFlowCommands(program);
  registerScheduleCommands(program);
  registerTokenCommands(program);
  registerBenchCommand(program);

  return program;
}

/** Runs `gaffer` on an argv (process.argv form: node, script, ...args), as the bin does. */
export async function runCli(argv: string[] = process.argv): Promise<void> {
  await buildProgram().parseAsync(argv);
}
