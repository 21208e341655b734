import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const GAFFER_BIN = here('../../bin/gaffer.js');
const TS_HANDLERS = here('./handlers.ts');
const PY_WORKER = here('../python-worker/worker.py');
const PY_HANDLERS = here('./study_handlers.py');

/** One worker process of the fleet: a PC running `gaffer worker N <study>`. */
export interface WorkerProcess {
  index: number;
  language: 'typescript' | 'python';
  machine: string;
  child: ChildProcess;
  /** stdout and stderr lines, as they come. */
  lines: string[];
  /** Resolves with the exit code (null when killed by a signal) and the signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnOptions {
  url: string;
  study: string;
  index: number;
  /** The PC's id; a restarted PC comes back with the same one. */
  machine: string;
  /** Time per simulation step on this PC (default 100 ms). */
  stepMs?: number;
  onLine?: (p: WorkerProcess, line: string) => void;
}

function track(p: Omit<WorkerProcess, 'lines' | 'exited'>, onLine?: SpawnOptions['onLine']): WorkerProcess {
  const wp = p as WorkerProcess;
  wp.lines = [];
  const take = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      wp.lines.push(line);
      onLine?.(wp, line);
    }
  };
  p.child.stdout?.on('data', take);
  p.child.stderr?.on('data', take);
  wp.exited = new Promise((resolve) => p.child.once('exit', (code, signal) => resolve({ code, signal })));
  return wp;
}

function env(stepMs: number | undefined): NodeJS.ProcessEnv {
  return {
    ...process.env,
    STUDY_STEP_MS: String(stepMs ?? 100),
    GAFFER_LOG_PRETTY: '0',
    PYTHONDONTWRITEBYTECODE: '1',
  };
}

/** `gaffer worker N <study> --handlers handlers.ts --url <server>`: claims assignment N, runs it, exits. */
export function spawnTsWorker(o: SpawnOptions): WorkerProcess {
  const args = [GAFFER_BIN, 'worker', String(o.index), o.study, '--handlers', TS_HANDLERS, '--url', o.url];
  args.push('--machine', o.machine, '--name', `slot-${o.index}`);
  const child = spawn(process.execPath, args, { env: env(o.stepMs), stdio: ['ignore', 'pipe', 'pipe'] });
  return track({ index: o.index, language: 'typescript', machine: o.machine, child }, o.onLine);
}

/** The standard-library Python worker in the same role: `worker.py --session <study> --index N`. */
export function spawnPythonWorker(o: SpawnOptions): WorkerProcess {
  const args = [PY_WORKER, '--url', o.url, '--session', o.study, '--index', String(o.index)];
  args.push('--handlers', PY_HANDLERS, '--machine-id', o.machine, '--name', `slot-${o.index}`);
  const child = spawn('python3', args, { env: env(o.stepMs), stdio: ['ignore', 'pipe', 'pipe'] });
  return track({ index: o.index, language: 'python', machine: o.machine, child }, o.onLine);
}
