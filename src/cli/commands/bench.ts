import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';

/** The package root: bench/ sits next to src/ and dist/ in a checkout. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * `gaffer bench`: the benchmark of bench/run.ts (what `npm run bench` runs), with its flags passed
 * through. It needs the source checkout (bench/ and its peers, which are dev dependencies); run
 * `gaffer bench --help` for its flags.
 */
export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description(
      'Benchmark Gaffer side by side with graphile-worker, pg-boss and BullMQ on this machine (as npm run bench; flags pass through, e.g. --quick, --only=gaffer,bullmq; --help lists them)',
    )
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[flags...]')
    .action(async (flags: string[]) => {
      const script = `${ROOT}bench/run.ts`;
      if (!existsSync(script)) {
        process.stderr.write(
          `gaffer bench runs from a source checkout: ${script} is missing (clone the repository and npm install)\n`,
        );
        process.exitCode = 1;
        return;
      }
      const child = spawn(process.execPath, ['--import', 'tsx', script, ...flags], {
        cwd: ROOT,
        stdio: 'inherit',
      });
      process.exitCode = await new Promise<number>((resolve) =>
        child.on('exit', (code) => resolve(code ?? 1)),
      );
    });
}
