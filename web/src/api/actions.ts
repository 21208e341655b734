/** Mutations: retry, cancel and delete. Each refreshes every query once it lands. */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from './client';
import type { BulkResult, Task, TaskFilter } from './types';

const enc = encodeURIComponent;
const REASON = 'from the dashboard';

function useAction<A, R>(fn: (arg: A) => Promise<R>) {
  const qc = useQueryClient();
  return useMutation({ mutationFn: fn, onSettled: () => qc.invalidateQueries() });
}

export const useRetryTask = () =>
  useAction((id: string) => api.post<Task>(`/api/v1/tasks/${enc(id)}/retry`, { reason: REASON }));

export const useCancelTask = () =>
  useAction((id: string) => api.post<Task>(`/api/v1/tasks/${enc(id)}/cancel`, { reason: REASON }));

export const useRetryDeadLetter = () =>
  useAction((id: string) => api.post<Task>(`/api/v1/dead-letters/${enc(id)}/retry`, { reason: REASON }));

export const useRetryDeadLetters = () =>
  useAction((filter: TaskFilter) =>
    api.post<BulkResult>('/api/v1/dead-letters/retry', { filter: cleanFilter(filter), reason: REASON }),
  );

export const useDeleteDeadLetter = () =>
  useAction((id: string) => api.del(`/api/v1/dead-letters/${enc(id)}`));

export const useDeleteSession = () => useAction((id: string) => api.del(`/api/v1/sessions/${enc(id)}`));

export const useCancelSession = () =>
  useAction((id: string) => api.post<BulkResult>(`/api/v1/sessions/${enc(id)}/cancel`, { reason: REASON }));

export const useRetrySessionFailed = () =>
  useAction((id: string) =>
    api.post<BulkResult>(`/api/v1/sessions/${enc(id)}/retry-failed`, { reason: REASON }),
  );

export const usePauseSchedule = () =>
  useAction((name: string) => api.post<unknown>(`/api/v1/schedules/${enc(name)}/pause`));

export const useResumeSchedule = () =>
  useAction((name: string) => api.post<unknown>(`/api/v1/schedules/${enc(name)}/resume`));

export const useDeleteWorker = () => useAction((id: string) => api.del(`/api/v1/workers/${enc(id)}`));

/** Drops empty fields; splits comma lists the way the API's query strings accept them. */
export function cleanFilter(f: TaskFilter): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(f)) {
    if (typeof v !== 'string' || v.trim() === '') continue;
    const listy = k === 'status' || k === 'type' || k === 'queue';
    out[k] = listy && v.includes(',') ? v.split(',').map((s) => s.trim()) : v.trim();
  }
  return out;
}

export const usePauseQueue = () =>
  useAction((queue: string) => api.post<unknown>(`/api/v1/limits/queue/${enc(queue)}/pause`));
export const useResumeQueue = () =>
  useAction((queue: string) => api.post<unknown>(`/api/v1/limits/queue/${enc(queue)}/resume`));
