import { type FormEvent, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { useTaskCounts, useTasks } from '../../api/queries';
import { TASK_STATUSES, type TaskFilter, WAIT_FILTERS } from '../../api/types';
import { FilterBar, type FilterField, useUrlFilters } from '../../components/FilterBar';
import { PageHeader } from '../../components/Layout';
import { EmptyState, ErrorState, Loading } from '../../components/States';
import { TaskTable } from './TaskTable';

const NAMES = ['status', 'type', 'queue', 'sessionId', 'key', 'userId', 'workerId', 'waitingOn'] as const;
const FIELDS: (FilterField & { name: (typeof NAMES)[number] })[] = [
  { name: 'status', label: 'Status', options: TASK_STATUSES },
  { name: 'type', label: 'Type' },
  { name: 'queue', label: 'Queue' },
  { name: 'sessionId', label: 'Session' },
  { name: 'key', label: 'Key' },
  { name: 'userId', label: 'User' },
  { name: 'workerId', label: 'Worker' },
  {
    name: 'waitingOn',
    label: 'Waiting on',
    // The reasons the API filters by, from the one list the server validates against.
    options: [...WAIT_FILTERS],
  },
];

function SearchById() {
  const navigate = useNavigate();
  const [id, setId] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (id.trim()) navigate(`/tasks/${encodeURIComponent(id.trim())}`);
  };
  return (
    <form className="search" onSubmit={submit}>
      <input
        type="search"
        name="taskId"
        aria-label="Task id"
        placeholder="Go to task id…"
        value={id}
        onChange={(e) => setId(e.target.value)}
      />
      <button type="submit" className="btn">
        Open
      </button>
    </form>
  );
}

export function TasksPage() {
  const [filter, setFilter] = useUrlFilters(NAMES);
  const f: TaskFilter = filter;
  const tasks = useTasks(f);
  const counts = useTaskCounts({ ...f, status: undefined });
  const items = tasks.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <>
      <PageHeader
        title="Tasks"
        sub="Every task, newest first. Filter, or open one by id."
        actions={<SearchById />}
      />
      <FilterBar fields={FIELDS} values={filter} onChange={setFilter} />
      {counts.data && (
        <nav className="chips" aria-label="Counts by status">
          <Link className={`chip${!f.status ? ' chip-on' : ''}`} to={linkWith(filter, undefined)}>
            all <b>{counts.data.total}</b>
          </Link>
          {TASK_STATUSES.map((s) => (
            <Link
              key={s}
              className={`chip chip-${s}${f.status === s ? ' chip-on' : ''}`}
              to={linkWith(filter, s)}
            >
              {s} <b data-testid={`count-${s}`}>{counts.data[s] ?? 0}</b>
            </Link>
          ))}
        </nav>
      )}
      <section className="card">
        {tasks.isPending ? (
          <Loading what="Loading tasks" />
        ) : tasks.isError ? (
          <ErrorState error={tasks.error} />
        ) : items.length === 0 ? (
          <EmptyState title="No tasks match">
            Change the filters, or create tasks with the API, SDK or CLI.
          </EmptyState>
        ) : (
          <>
            <TaskTable tasks={items} />
            {tasks.hasNextPage && (
              <button
                type="button"
                className="btn load-more"
                disabled={tasks.isFetchingNextPage}
                onClick={() => void tasks.fetchNextPage()}
              >
                {tasks.isFetchingNextPage ? 'Loading…' : 'Load more'}
              </button>
            )}
          </>
        )}
      </section>
    </>
  );
}

function linkWith(filter: Partial<Record<string, string>>, status: string | undefined): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(filter)) if (v && k !== 'status') p.set(k, v);
  if (status) p.set('status', status);
  const qs = p.toString();
  return qs ? `/tasks?${qs}` : '/tasks';
}
