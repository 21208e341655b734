import type { Command } from 'commander';
import type { Json } from '../../store/types.js';
import { action, addConnectionOptions, openClient, printJson } from '../context.js';

interface SignalFlags {
  data?: string;
  json?: boolean;
}

/** `gaffer signal <id> --data '<json>'`: completes a task's wait for a signal (issue 15, item 4). */
export function registerSignalCommand(program: Command): void {
  addConnectionOptions(
    program
      .command('signal <id>')
      .description('Complete the wait of a task waiting for a signal: it becomes runnable with the data'),
  )
    .option('--data <json>', 'the signal’s data (JSON), what the handler reads as ctx.signalData')
    .option('--json', 'print JSON')
    .action(
      action(async (id: string, f: SignalFlags) => {
        let data: Json | undefined;
        if (f.data !== undefined) {
          try {
            data = JSON.parse(f.data) as Json;
          } catch {
            throw new Error(`--data is not JSON: ${f.data}`);
          }
        }
        const { client, close } = await openClient(f);
        try {
          const task = await client.signal(id, data);
          if (f.json) printJson({ matched: 1, changed: 1, items: [task] });
          else process.stdout.write(`${task.id}: ${task.status} (signalled)\n`);
        } finally {
          await close();
        }
      }),
    );
}
