/** TanStack Query hooks over the read side of the API. Live updates invalidate them (see live.ts). */
import { keepPreviousData, useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { ApiError, api } from './client';
import type {
  Alert,
  FlowControl,
  Page,
  Schedule,
  Session,
  SessionDetail,
  SessionFilter,
  Stats,
  Task,
  TaskCounts,
  TaskDetail,
  TaskEvent,
  TaskFilter,
  Throughput,
  Worker,
  WorkerDetail,
} from './types';

const PAGE = 50;
const enc = encodeURIComponent;

export const keys = {
  stats: ['stats'] as const,
  throughput: ['throughput'] as const,
  alerts: ['alerts'] as const,
  tasks: (f: TaskFilter) => ['tasks', f] as const,
  counts: (f: TaskFilter) => ['task-counts', f] as const,
  task: (id: string) => ['task', id] as const,
  taskEvents: (id: string) => ['task-events', id] as const,
  deadLetters: (f: TaskFilter) => ['dead-letters', f] as const,
  sessions: (f: SessionFilter) => ['sessions', f] as const,
  session: (id: string) => ['session', id] as const,
  workers: (includeStale: boolean) => ['workers', includeStale] as const,
  worker: (id: string) => ['worker', id] as const,
  schedules: ['schedules'] as const,
  limits: ['limits'] as const,
};

export function useStats() {
  return useQuery({
    queryKey: keys.stats,
    queryFn: ({ signal }) => api.get<Stats>('/api/v1/stats', undefined, signal),
  });
}

/** Per-minute completed / failed counts; null when the server has no throughput endpoint. */
export function useThroughput() {
  return useQuery({
    queryKey: keys.throughput,
    queryFn: async ({ signal }) => {
      try {
        return await api.get<Throughput>('/api/v1/stats/throughput', undefined, signal);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) return null;
        throw err;
      }
    },
  });
}

/** Alerts firing now; null when the server has no alerts endpoint. */
export function useAlerts() {
  return useQuery({
    queryKey: keys.alerts,
    queryFn: async ({ signal }) => {
      try {
        return (await api.get<{ items: Alert[] }>('/api/v1/alerts', { status: 'firing' }, signal)).items;
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) return null;
        throw err;
      }
    },
  });
}

function infinite<T>(key: readonly unknown[], path: string, query: object) {
  return {
    queryKey: key,
    initialPageParam: null as string | null,
    queryFn: ({ pageParam, signal }: { pageParam: string | null; signal: AbortSignal }) =>
      api.get<Page<T>>(path, { ...query, limit: PAGE, cursor: pageParam ?? undefined }, signal),
    getNextPageParam: (last: Page<T>) => last.nextCursor,
    placeholderData: keepPreviousData,
  };
}

export function useTasks(f: TaskFilter) {
  return useInfiniteQuery(infinite<Task>(keys.tasks(f), '/api/v1/tasks', f));
}

export function useTaskCounts(f: TaskFilter) {
  return useQuery({
    queryKey: keys.counts(f),
    queryFn: ({ signal }) => api.get<TaskCounts>('/api/v1/tasks/counts', { ...f }, signal),
    placeholderData: keepPreviousData,
  });
}

export function useDeadLetters(f: TaskFilter) {
  return useInfiniteQuery(infinite<Task>(keys.deadLetters(f), '/api/v1/dead-letters', f));
}

export function useTask(id: string) {
  return useQuery({
    queryKey: keys.task(id),
    queryFn: ({ signal }) => api.get<TaskDetail>(`/api/v1/tasks/${enc(id)}`, undefined, signal),
  });
}

export function useTaskEvents(id: string) {
  return useQuery({
    queryKey: keys.taskEvents(id),
    queryFn: async ({ signal }) =>
      (await api.get<{ items: TaskEvent[] }>(`/api/v1/tasks/${enc(id)}/events`, { limit: 1000 }, signal))
        .items,
  });
}

export function useSessions(f: SessionFilter) {
  return useInfiniteQuery(infinite<Session>(keys.sessions(f), '/api/v1/sessions', f));
}

export function useSession(id: string) {
  return useQuery({
    queryKey: keys.session(id),
    queryFn: ({ signal }) => api.get<SessionDetail>(`/api/v1/sessions/${enc(id)}`, undefined, signal),
  });
}

/** The fleet a page at a time (newest registration first); the fleet's size is in useStats. */
export function useWorkers(includeStale: boolean) {
  return useInfiniteQuery(
    infinite<Worker>(keys.workers(includeStale), '/api/v1/workers', {
      includeStale: includeStale || undefined,
    }),
  );
}

export function useWorker(id: string) {
  return useQuery({
    queryKey: keys.worker(id),
    queryFn: ({ signal }) => api.get<WorkerDetail>(`/api/v1/workers/${enc(id)}`, undefined, signal),
  });
}

/** Every schedule by name; polled, since ticks are not live events (next run times move on their own). */
export function useSchedules() {
  return useQuery({
    queryKey: keys.schedules,
    queryFn: async ({ signal }) => {
      const items: Schedule[] = [];
      let cursor: string | undefined;
      do {
        const page = await api.get<Page<Schedule>>('/api/v1/schedules', { limit: 1000, cursor }, signal);
        items.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      return items;
    },
    refetchInterval: 5000,
  });
}

/** Queues and types under flow control (paused or limited), with what runs and waits on each. */
export function useFlowControls() {
  return useQuery({
    queryKey: keys.limits,
    queryFn: async ({ signal }) =>
      (await api.get<{ items: FlowControl[] }>('/api/v1/limits', undefined, signal)).items,
    refetchInterval: 2000,
  });
}
