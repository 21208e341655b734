import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { useCancelSession, useDeleteSession, useRetrySessionFailed } from '../../api/actions';
import { useSession } from '../../api/queries';
import type { BulkResult } from '../../api/types';
import { Ago } from '../../components/Ago';
import { Progress, StatusBadge } from '../../components/Badges';
import { ConfirmButton } from '../../components/ConfirmButton';
import { JsonView } from '../../components/JsonView';
import { PageHeader } from '../../components/Layout';
import { ActionError, EmptyState, ErrorState, Loading } from '../../components/States';
import { WorkerLink } from '../tasks/TaskTable';
import { SessionCounts } from './SessionCounts';

export function SessionPage() {
  const { id = '' } = useParams();
  const navigate = useNavigate();
  const q = useSession(id);
  const retry = useRetrySessionFailed();
  const cancel = useCancelSession();
  const del = useDeleteSession();
  const [result, setResult] = useState<{ what: string; r: BulkResult } | null>(null);
  if (q.isPending) return <Loading what="Loading session" />;
  if (q.isError) return <ErrorState error={q.error} />;
  const { session: s, tasks } = q.data;
  const failed = (s.counts.failed ?? 0) + (s.counts.cancelled ?? 0);
  const open = (s.counts.queued ?? 0) + (s.counts.running ?? 0) + (s.counts.retrying ?? 0);
  return (
    <>
      <PageHeader
        title={
          <>
            Session <span className="mono">{s.id}</span>
          </>
        }
        sub={
          <>
            <StatusBadge status={s.status} />{' '}
            {s.key && (
              <>
                key <b>{s.key}</b> ·{' '}
              </>
            )}
            {s.userId && (
              <>
                user <b>{s.userId}</b> ·{' '}
              </>
            )}
            created <Ago at={s.createdAt} />
          </>
        }
        actions={
          <>
            <button
              type="button"
              className="btn"
              disabled={failed === 0 || retry.isPending}
              onClick={() => retry.mutate(s.id, { onSuccess: (r) => setResult({ what: 'Retried', r }) })}
            >
              Retry failed
            </button>
            <ConfirmButton
              label="Cancel all"
              title={`Cancel the ${open} unfinished task${open === 1 ? '' : 's'} of this session?`}
              confirmLabel="Cancel all"
              disabled={open === 0}
              onConfirm={() => cancel.mutate(s.id, { onSuccess: (r) => setResult({ what: 'Cancelled', r }) })}
            >
              Queued tasks are cancelled at once; running ones through their worker's heartbeat.
            </ConfirmButton>
            <ConfirmButton
              label="Delete"
              title={`Delete session ${s.id}?`}
              confirmLabel="Delete session"
              danger
              onConfirm={() => del.mutate(s.id, { onSuccess: () => navigate('/sessions') })}
            >
              Its running tasks are cancelled, then all {s.taskCount} tasks and their history are removed.
            </ConfirmButton>
          </>
        }
      />
      <ActionError error={retry.error ?? cancel.error ?? del.error} />
      {result && (
        <p className="notice" role="status">
          {result.what} {result.r.changed} of {result.r.matched} task{result.r.matched === 1 ? '' : 's'}.
        </p>
      )}
      <section className="card session-summary">
        <div className="progress-large">
          <Progress fraction={s.progress} />
        </div>
        <SessionCounts s={s} />
      </section>
      <section className="card">
        <h2>Tasks by index</h2>
        {tasks.length === 0 ? (
          <EmptyState title="No tasks in this session" />
        ) : (
          <div className="table-wrap">
            <table className="table" data-testid="session-tasks">
              <thead>
                <tr>
                  <th className="num">#</th>
                  <th>Task</th>
                  <th>Type</th>
                  <th>Status</th>
                  <th>Progress</th>
                  <th className="num">Attempts</th>
                  <th>Worker</th>
                  <th>Updated</th>
                </tr>
              </thead>
              <tbody>
                {tasks.map((t) => (
                  <tr key={t.id} data-index={t.sessionIndex ?? ''}>
                    <td className="num">{t.sessionIndex}</td>
                    <td>
                      <Link to={`/tasks/${encodeURIComponent(t.id)}`} className="mono">
                        {t.id}
                      </Link>
                    </td>
                    <td>{t.type}</td>
                    <td>
                      <StatusBadge status={t.status} />
                    </td>
                    <td className="cell-progress">
                      <Progress value={t.progress} />
                    </td>
                    <td className="num">
                      {t.attempt}/{t.maxAttempts}
                    </td>
                    <td>
                      <WorkerLink id={t.workerId} machine={t.machineId} />
                    </td>
                    <td>
                      <Ago at={t.updatedAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {Object.keys(s.metadata).length > 0 && (
        <section className="card">
          <h2>Metadata</h2>
          <JsonView value={s.metadata} />
        </section>
      )}
    </>
  );
}
