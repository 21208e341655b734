import { Link } from 'react-router';
import type { Task } from '../../api/types';
import { Ago } from '../../components/Ago';
import { Progress, StatusBadge } from '../../components/Badges';
import { shortId } from '../../components/format';

export type TaskColumn =
  | 'type'
  | 'queue'
  | 'session'
  | 'worker'
  | 'progress'
  | 'attempts'
  | 'updated'
  | 'created'
  | 'error';

const ALL: TaskColumn[] = ['type', 'queue', 'session', 'progress', 'attempts', 'worker', 'updated'];

/** A table of tasks; the id links to the task's page. */
export function TaskTable({ tasks, columns = ALL }: { tasks: Task[]; columns?: TaskColumn[] }) {
  const has = (c: TaskColumn) => columns.includes(c);
  return (
    <div className="table-wrap">
      <table className="table" data-testid="task-table">
        <thead>
          <tr>
            <th>Task</th>
            {has('type') && <th>Type</th>}
            {has('queue') && <th>Queue</th>}
            <th>Status</th>
            {has('session') && <th>Session</th>}
            {has('progress') && <th>Progress</th>}
            {has('attempts') && <th className="num">Attempts</th>}
            {has('error') && <th>Error</th>}
            {has('worker') && <th>Worker</th>}
            {has('created') && <th>Created</th>}
            {has('updated') && <th>Updated</th>}
          </tr>
        </thead>
        <tbody>
          {tasks.map((t) => (
            <tr key={t.id} data-task-id={t.id}>
              <td>
                <Link to={`/tasks/${encodeURIComponent(t.id)}`} className="mono" title={t.id}>
                  {shortId(t.id)}
                </Link>
              </td>
              {has('type') && <td>{t.type}</td>}
              {has('queue') && <td>{t.queue}</td>}
              <td>
                <StatusBadge status={t.status} />
              </td>
              {has('session') && (
                <td>
                  {t.sessionId ? (
                    <Link
                      to={`/sessions/${encodeURIComponent(t.sessionId)}`}
                      className="mono"
                      title={t.sessionId}
                    >
                      {shortId(t.sessionId)}
                      {t.sessionIndex !== null && <span className="muted"> #{t.sessionIndex}</span>}
                    </Link>
                  ) : (
                    <span className="muted">—</span>
                  )}
                </td>
              )}
              {has('progress') && (
                <td className="cell-progress">
                  <Progress value={t.progress} />
                </td>
              )}
              {has('attempts') && (
                <td className="num">
                  {t.attempt}/{t.maxAttempts}
                </td>
              )}
              {has('error') && (
                <td className="cell-error">{t.error?.message ?? <span className="muted">—</span>}</td>
              )}
              {has('worker') && (
                <td>
                  <WorkerLink id={t.workerId} machine={t.machineId} />
                </td>
              )}
              {has('created') && (
                <td>
                  <Ago at={t.createdAt} />
                </td>
              )}
              {has('updated') && (
                <td>
                  <Ago at={t.updatedAt} />
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function WorkerLink({ id, machine }: { id: string | null; machine?: string | null }) {
  if (!id) return <span className="muted">—</span>;
  return (
    <Link
      to={`/workers/${encodeURIComponent(id)}`}
      className="mono"
      title={machine ? `${id} on ${machine}` : id}
    >
      {shortId(id)}
      {machine && <span className="muted"> @{machine}</span>}
    </Link>
  );
}
