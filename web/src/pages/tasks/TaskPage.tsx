import { Link, useParams } from 'react-router';
import { useCancelTask, useRetryTask } from '../../api/actions';
import { useTask, useTaskEvents } from '../../api/queries';
import type { Task, WaitReason } from '../../api/types';
import { Ago } from '../../components/Ago';
import { Progress, StatusBadge } from '../../components/Badges';
import { ConfirmButton } from '../../components/ConfirmButton';
import { formatTime } from '../../components/format';
import { JsonView } from '../../components/JsonView';
import { PageHeader } from '../../components/Layout';
import { ActionError, ErrorState, Loading } from '../../components/States';
import { AttemptsTimeline } from './AttemptsTimeline';
import { EventHistory } from './EventHistory';
import { TaskGraph } from './TaskGraph';
import { WorkerLink } from './TaskTable';

function Details({ t }: { t: Task }) {
  const rows: [string, React.ReactNode][] = [
    ['Type', t.type],
    ['Queue', t.queue],
    ['Priority', t.priority],
    [
      'Attempts',
      `${t.attempt} of ${t.maxAttempts}${t.attemptFloor > 0 ? ` (+${t.attemptFloor} before manual retries)` : ''}`,
    ],
    ['Manual retries', t.manualRetries],
    [
      'Session',
      t.sessionId ? (
        <Link key="s" to={`/sessions/${encodeURIComponent(t.sessionId)}`} className="mono">
          {t.sessionId}
          {t.sessionIndex !== null && ` #${t.sessionIndex}`}
        </Link>
      ) : (
        '—'
      ),
    ],
    ['Key', t.key ?? '—'],
    ['User', t.userId ?? '—'],
    ['Worker', <WorkerLink key="w" id={t.workerId} machine={t.machineId} />],
    ['Created', <Ago key="c" at={t.createdAt} />],
    ['Run at', formatTime(t.runAt)],
    ['Started', <Ago key="s" at={t.startedAt} />],
    ['Finished', <Ago key="f" at={t.finishedAt} />],
    ['Lease expires', t.leaseExpiresAt ? <Ago key="l" at={t.leaseExpiresAt} /> : '—'],
    ['Idempotency key', t.idempotencyKey ?? '—'],
    [
      'Parent',
      t.parentId ? (
        <Link key="p" to={`/tasks/${encodeURIComponent(t.parentId)}`} className="mono">
          {t.parentId}
        </Link>
      ) : (
        '—'
      ),
    ],
  ];
  return (
    <dl className="details">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

function ErrorBox({ t }: { t: Task }) {
  if (!t.error) return <p className="muted">none</p>;
  const earlier = t.status !== 'failed' && t.status !== 'retrying' && t.status !== 'cancelled';
  return (
    <div className="error-box" data-testid="task-error">
      {earlier && <div className="muted small">From an earlier attempt:</div>}
      <strong>{t.error.name ?? 'Error'}</strong>: {t.error.message}
      <div className="muted">
        {t.error.kind && `${t.error.kind} · `}
        {t.error.retryable === false ? 'not retryable' : 'retryable'}
      </div>
      {t.error.stack && (
        <details>
          <summary>Stack</summary>
          <pre className="json">{t.error.stack}</pre>
        </details>
      )}
    </div>
  );
}

/** Why the task is not running, as the server works it out (the same as `gaffer task <id>`). */
function WaitingOn({ reasons }: { reasons: WaitReason[] }) {
  return (
    <section className="card" data-testid="waiting-on">
      <h2>Waiting on</h2>
      <ul className="plain-list">
        {reasons.map((r) => (
          <li key={r.reason} data-reason={r.reason}>
            <strong>{r.reason.replaceAll('_', ' ')}</strong>: {r.message}
          </li>
        ))}
      </ul>
    </section>
  );
}

function RetryHistory({ t }: { t: Task }) {
  if (t.retryHistory.length === 0) return null;
  return (
    <>
      <h3>Manual retries</h3>
      <ul className="plain-list" data-testid="retry-history">
        {t.retryHistory.map((r) => (
          <li key={`${r.attempt}-${r.at}`}>
            attempt {r.attempt} by {r.by}, {formatTime(r.at)}
            {r.reason && ` — ${r.reason}`} → {r.outcome ?? 'pending'}
          </li>
        ))}
      </ul>
    </>
  );
}

export function TaskPage() {
  const { id = '' } = useParams();
  const task = useTask(id);
  const events = useTaskEvents(id);
  const retry = useRetryTask();
  const cancel = useCancelTask();
  if (task.isPending) return <Loading what="Loading task" />;
  if (task.isError) return <ErrorState error={task.error} />;
  const t = task.data;
  const canRetry = t.status === 'failed' || t.status === 'cancelled';
  const canCancel =
    (t.status === 'waiting' || t.status === 'queued' || t.status === 'retrying' || t.status === 'running') &&
    !t.cancelRequested;
  return (
    <>
      <PageHeader
        title={
          <>
            Task <span className="mono">{t.id}</span>
          </>
        }
        sub={
          <>
            <StatusBadge status={t.status} /> {t.type} on {t.queue}
            {t.cancelRequested && <span className="badge badge-retrying">cancel requested</span>}
          </>
        }
        actions={
          <>
            {canRetry && (
              <button
                type="button"
                className="btn btn-primary"
                disabled={retry.isPending}
                onClick={() => retry.mutate(t.id)}
              >
                Retry
              </button>
            )}
            {canCancel && (
              <ConfirmButton
                label="Cancel"
                title={`Cancel task ${t.id}?`}
                confirmLabel="Cancel task"
                danger
                onConfirm={() => cancel.mutate(t.id)}
              >
                {t.status === 'running'
                  ? 'Its worker is told through its next heartbeat.'
                  : 'It will not run.'}
              </ConfirmButton>
            )}
          </>
        }
      />
      <ActionError error={retry.error ?? cancel.error} />
      <div className="split">
        <div className="col">
          {task.data.waitingOn && task.data.waitingOn.length > 0 && (
            <WaitingOn reasons={task.data.waitingOn} />
          )}
          <section className="card">
            <h2>Details</h2>
            <Details t={t} />
          </section>
          <section className="card">
            <h2>Payload</h2>
            <JsonView value={t.payload} />
          </section>
          <section className="card">
            <h2>Result</h2>
            <JsonView value={t.result} empty={t.status === 'completed' ? 'no result' : 'not finished'} />
          </section>
          {Object.keys(t.metadata).length > 0 && (
            <section className="card">
              <h2>Metadata</h2>
              <JsonView value={t.metadata} />
            </section>
          )}
        </div>
        <div className="col">
          <section className="card">
            <h2>Progress</h2>
            <div className="progress-large" data-testid="task-progress">
              <Progress value={t.progress} />
            </div>
            <h2>Last error</h2>
            <ErrorBox t={t} />
          </section>
          <section className="card">
            <h2>Attempts</h2>
            {events.data ? (
              <AttemptsTimeline events={events.data} live={t.status === 'running'} />
            ) : (
              <Loading />
            )}
            <RetryHistory t={t} />
          </section>
        </div>
      </div>
      <TaskGraph id={t.id} parentId={t.parentId} />
      <section className="card">
        <h2>Event history</h2>
        {events.isError ? (
          <ErrorState error={events.error} />
        ) : events.data ? (
          <EventHistory events={events.data} />
        ) : (
          <Loading />
        )}
      </section>
    </>
  );
}
