import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkerRecord as Worker } from '@gafferhq/gaffer';
import { GafferClient, type Session, type Task } from '@gafferhq/gaffer';
import { HttpBackend } from '@gafferhq/gaffer/client';
import { startServer } from '@gafferhq/gaffer/server';
import pino from 'pino';
import { spawnPythonWorker, spawnTsWorker, type WorkerProcess } from './fleet.js';
import { Assignment } from './handlers.js';

/** Short lease and stale window so a killed PC's assignment comes back in seconds, not a minute. */
export const LEASE_MS = 2000;
export const STALE_AFTER_MS = 3000;
export const ASSIGNMENTS = 4;
/** The assignment whose PC is killed mid-run. */
export const KILLED = 1;
/** The assignment run by the Python worker. */
export const PYTHON = 2;

export interface WorkerDetail {
  status: number;
  worker?: Worker & { state: unknown };
  events?: Array<{ kind: string; data: unknown }>;
}

export interface DemoReport {
  url: string;
  studyId: string;
  /** Task ids by index as created. */
  created: string[];
  processes: Array<{
    index: number;
    language: string;
    machine: string;
    code: number | null;
    signal: string | null;
    lines: string[];
  }>;
  killed: {
    workerId: string;
    progressBeforeKill: unknown;
    worker: Worker;
    /** The assignment once the dead PC's lease lapsed. */
    task: Task;
    msToStale: number;
  };
  /** While the replacement runs assignment 1. */
  fleet: { live: Worker[]; all: Worker[]; task: Task };
  final: { session: Session; tasks: Task[] };
  details: { typescript: WorkerDetail; python: WorkerDetail };
  reconnect: { first: string; second: string; firstAfter: Worker };
  deleteWorker: {
    status: number;
    getAfter: number;
    eventsAfter: number;
    taskEvents: Array<{ kind: string; workerId: string | null }>;
  };
  deleteStudy: { status: number; sessionAfter: number; tasksAfter: number; taskAfter: number };
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Seed 002 end to end: a super study as a session of indexed assignments, a
 * fleet of worker processes each claiming its own index (one in Python), a PC
 * killed mid-run whose assignment comes back once it is stale, and deletes.
 */
export async function runDemo(
  opts: {
    /** Each output line of the worker processes. */
    onLine?: (p: WorkerProcess, line: string) => void;
    /** The server's warnings (stale workers, lapsed leases) as JSON lines. */
    onLog?: (line: Record<string, unknown>) => void;
  } = {},
): Promise<DemoReport> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gaffer-study-fleet-'));
  const server = await startServer({
    dataDir,
    port: 0,
    logger: pino({ level: 'warn', base: null }, { write: (s: string) => opts.onLog?.(JSON.parse(s)) }),
    storeOptions: { leaseMs: LEASE_MS, staleAfterMs: STALE_AFTER_MS },
    maintenance: { sweepIntervalMs: 250 },
  });
  const { url } = server;
  const client = new GafferClient(new HttpBackend({ url }));
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}/api/v1${path}`, {
      method,
      // Body-less writes carry X-Gaffer-Request (a server with auth off refuses them without it).
      headers: body === undefined ? { 'x-gaffer-request': '1' } : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const procs: WorkerProcess[] = [];
  try {
    await client.defineType('study.assignment', {
      schema: Assignment,
      maxAttempts: 3,
      backoff: { baseMs: 100, maxMs: 200 },
    });
    // The super study: N assignments, each with its own split; index i is assignment i for ever.
    const studyId = `study-${randomUUID().slice(0, 8)}`;
    const solvers = ['fdtd', 'fem', 'mom', 'fdtd'];
    const { tasks } = await client.createSession({
      id: studyId,
      key: 'super-study/antenna-sweep',
      metadata: { name: 'Antenna sweep', assignments: ASSIGNMENTS },
      tasks: Array.from({ length: ASSIGNMENTS }, (_, i) => ({
        type: 'study.assignment',
        payload: {
          study: studyId,
          splitConfig: { from: i * 250, to: (i + 1) * 250, solver: solvers[i]! },
          steps: 8,
        },
      })),
    });
    const created = tasks.map((t) => t.id);

    // The fleet: one process per PC, each started as `gaffer worker N <study>`; PC 1 is slow, PC 2 runs Python.
    const spawnFor = (index: number, stepMs?: number) => {
      const o = { url, study: studyId, index, machine: `pc-${index}`, stepMs, onLine: opts.onLine };
      const p = index === PYTHON ? spawnPythonWorker(o) : spawnTsWorker(o);
      procs.push(p);
      return p;
    };
    for (let i = 0; i < ASSIGNMENTS; i++) spawnFor(i, i === KILLED ? 700 : 100);

    // PC 1 dies (SIGKILL: no goodbye, no hand-back) after reporting some progress.
    const doomed = await until('assignment 1 to report progress', async () => {
      const t = await client.get(created[KILLED]!);
      return t.status === 'running' && t.progress ? t : null;
    });
    procs[KILLED]!.child.kill('SIGKILL');
    const killedAt = Date.now();
    const killedId = doomed.workerId!;

    // No heartbeat for STALE_AFTER_MS: the worker is stale, its lease lapses, the assignment is free again.
    const staleWorker = await until('the killed worker to go stale', async () =>
      (await client.workers({ includeStale: true })).find((w) => w.id === killedId && w.stale),
    );
    const msToStale = Date.now() - killedAt;
    const freed = await until('assignment 1 to be claimable again', async () => {
      const t = await client.get(created[KILLED]!);
      return t.status !== 'running' && t.runAt.getTime() <= Date.now() ? t : null;
    });

    // PC 1 restarts and runs `gaffer worker 1 <study>` again: a new worker, same machine.
    spawnFor(KILLED, 100);
    const rerun = await until('the replacement to run assignment 1', async () => {
      const t = await client.get(created[KILLED]!);
      return t.status === 'running' && t.workerId !== killedId ? t : null;
    });
    const fleet = {
      live: await client.workers(),
      all: await client.workers({ includeStale: true }),
      task: rerun,
    };

    await Promise.all(procs.map((p) => p.exited));
    const session = await until('the study to finish', async () => {
      const s = await client.session(studyId);
      return s.status !== 'active' ? s : null;
    });
    const final = { session, tasks: await client.sessionTasks(studyId) };

    const detail = async (id: string | null): Promise<WorkerDetail> => {
      const r = await api('GET', `/workers/${id}`);
      return { status: r.status, worker: r.body?.worker, events: r.body?.events };
    };
    const details = {
      typescript: await detail(final.tasks[0]!.workerId),
      python: await detail(final.tasks[PYTHON]!.workerId),
    };

    // The same PC connecting twice: a new worker each time, the earlier one stale at once.
    const reg = { machineId: 'pc-9', name: 'slot-0', types: ['study.assignment'] };
    const first = (await api('POST', '/worker/register', reg)).body.workerId as string;
    const second = (await api('POST', '/worker/register', reg)).body.workerId as string;
    const firstAfter = await client.worker(first);
    await api('DELETE', `/worker/${second}`);

    // Deleting a worker takes its state and events; the tasks it ran keep their history.
    const deleteWorker = {
      status: (await api('DELETE', `/workers/${killedId}`)).status,
      getAfter: (await api('GET', `/workers/${killedId}`)).status,
      eventsAfter: (await api('GET', `/workers/${killedId}/events`)).status,
      taskEvents: (await client.events(created[KILLED]!)).map((e) => ({
        kind: e.kind,
        workerId: e.workerId,
      })),
    };

    // Deleting the study cascades to its assignments and their events.
    const deleteStudy = {
      status: (await api('DELETE', `/sessions/${studyId}`)).status,
      sessionAfter: (await api('GET', `/sessions/${studyId}`)).status,
      tasksAfter: (await client.list({ sessionId: studyId })).items.length,
      taskAfter: (await api('GET', `/tasks/${created[0]}`)).status,
    };

    return {
      url,
      studyId,
      created,
      processes: await Promise.all(
        procs.map(async (p) => {
          const { code, signal } = await p.exited;
          return { index: p.index, language: p.language, machine: p.machine, code, signal, lines: p.lines };
        }),
      ),
      killed: {
        workerId: killedId,
        progressBeforeKill: doomed.progress,
        worker: staleWorker,
        task: freed,
        msToStale,
      },
      fleet,
      final,
      details,
      reconnect: { first, second, firstAfter },
      deleteWorker,
      deleteStudy,
    };
  } finally {
    for (const p of procs)
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
