import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One line of a worker process's execution ledger. */
export interface LedgerEntry {
  /** S handler started, D handler returned, U event loop unblocked, A saw its AbortSignal. */
  phase: string;
  taskId: string;
  attempt: number;
  at: number;
  pid: number;
  extra?: string;
}

export function newLedgerDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `gaffer-ledger-${tag}-`));
}

export function removeLedgerDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function readLedger(dir: string): LedgerEntry[] {
  const out: LedgerEntry[] = [];
  for (const f of readdirSync(dir)) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!line) continue;
      const [phase, taskId, attempt, at, pid, extra] = line.split(' ');
      out.push({
        phase: phase!,
        taskId: taskId!,
        attempt: Number(attempt),
        at: Number(at),
        pid: Number(pid),
        extra,
      });
    }
  }
  return out;
}

export interface ExecutionCheck {
  /** Handler starts recorded. */
  starts: number;
  /** Tasks whose handler started more than once (any attempts). */
  duplicatedTasks: string[];
  /** (task, attempt) pairs started more than once: two holders of one lease. Must be empty. */
  sameAttemptTwice: string[];
  startsByTask: Map<string, LedgerEntry[]>;
}

/** Duplicate executions by task, and by the unique (task, attempt) key. */
export function checkExecutions(entries: LedgerEntry[]): ExecutionCheck {
  const startsByTask = new Map<string, LedgerEntry[]>();
  const byAttempt = new Map<string, number>();
  let starts = 0;
  for (const e of entries) {
    if (e.phase !== 'S') continue;
    starts++;
    const list = startsByTask.get(e.taskId) ?? [];
    list.push(e);
    startsByTask.set(e.taskId, list);
    const key = `${e.taskId}#${e.attempt}`;
    byAttempt.set(key, (byAttempt.get(key) ?? 0) + 1);
  }
  return {
    starts,
    duplicatedTasks: [...startsByTask].filter(([, l]) => l.length > 1).map(([id]) => id),
    sameAttemptTwice: [...byAttempt].filter(([, n]) => n > 1).map(([k]) => k),
    startsByTask,
  };
}
