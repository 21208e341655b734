import { useNavigate, useParams } from 'react-router';
import { useDeleteWorker } from '../../api/actions';
import { useWorker } from '../../api/queries';
import type { Worker, WorkerEvent } from '../../api/types';
import { Ago, useNow } from '../../components/Ago';
import { StaleBadge } from '../../components/Badges';
import { ConfirmButton } from '../../components/ConfirmButton';
import { formatDuration, formatPercent, formatTime } from '../../components/format';
import { JsonView } from '../../components/JsonView';
import { PageHeader } from '../../components/Layout';
import { StatCard } from '../../components/StatCard';
import { ActionError, EmptyState, ErrorState, Loading } from '../../components/States';
import { TaskTable } from '../tasks/TaskTable';
import { workerStats } from './workerStats';

function Details({ w }: { w: Worker }) {
  const labels = Object.entries(w.labels).map(([k, v]) => `${k}=${v}`);
  const rows: [string, React.ReactNode][] = [
    ['Machine', w.machineId],
    ['Hostname', w.hostname ?? '—'],
    ['Slot', w.name ?? '—'],
    ['PID', w.pid ?? '—'],
    ['Version', w.version ?? '—'],
    ['Types', w.types.join(', ') || 'any'],
    ['Queues', w.queues.join(', ') || 'all'],
    ['Concurrency', w.concurrency],
    ['Labels', labels.join(', ') || '—'],
    ['Registered', formatTime(w.registeredAt)],
    ['Last heartbeat', <Ago key="hb" at={w.lastHeartbeatAt} />],
  ];
  if (w.stale) rows.push(['Stale since', formatTime(w.staleAt)], ['Why', w.staleReason ?? 'no heartbeat']);
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

function Events({ events }: { events: WorkerEvent[] }) {
  if (events.length === 0) return <p className="muted">No events yet.</p>;
  return (
    <ul className="event-list" data-testid="worker-events">
      {events.map((e) => (
        <li key={e.id}>
          <span className={`event event-${e.kind}`}>{e.kind.replaceAll('_', ' ')}</span>
          <time className="muted small" dateTime={e.at}>
            {formatTime(e.at)}
          </time>
          {e.data !== null && <code className="event-data">{JSON.stringify(e.data)}</code>}
        </li>
      ))}
    </ul>
  );
}

export function WorkerPage() {
  const { id = '' } = useParams();
  const navigate = useNavigate();
  const q = useWorker(id);
  const del = useDeleteWorker();
  const now = useNow();
  if (q.isPending) return <Loading what="Loading worker" />;
  if (q.isError) return <ErrorState error={q.error} />;
  const { worker: w, events, currentTasks, recentTasks } = q.data;
  const st = workerStats(w, now);
  return (
    <>
      <PageHeader
        title={
          <>
            Worker <span className="mono">{w.id}</span>
          </>
        }
        sub={
          <>
            <StaleBadge stale={w.stale} /> on <b>{w.machineId}</b>
            {w.pid !== null && <> · pid {w.pid}</>}
          </>
        }
        actions={
          <ConfirmButton
            label="Delete"
            title={`Delete worker ${w.id}?`}
            confirmLabel="Delete worker"
            danger
            onConfirm={() => del.mutate(w.id, { onSuccess: () => navigate('/workers') })}
          >
            {w.stale
              ? ''
              : 'It is live: it is made stale first, and its running tasks go back to the queue. '}
            Its state and events are removed; the tasks it ran keep their history.
          </ConfirmButton>
        }
      />
      <ActionError error={del.error} />
      <section className="stats" aria-label="Worker totals">
        <StatCard label="Processed" value={st.processed ?? '—'} testId="worker-processed" />
        <StatCard label="Failed" value={st.failed ?? '—'} tone={st.failed ? 'bad' : undefined} />
        <StatCard label="Success rate" value={formatPercent(st.successRate)} tone="ok" />
        <StatCard
          label="Uptime"
          value={formatDuration(st.uptimeMs)}
          hint={w.stale ? 'until it went stale' : undefined}
        />
        <StatCard
          label="Running now"
          value={currentTasks.length}
          tone="info"
          hint={`of ${w.concurrency} slots`}
        />
      </section>
      <div className="grid-2">
        <section className="card">
          <h2>Details</h2>
          <Details w={w} />
        </section>
        <section className="card">
          <h2>State</h2>
          <JsonView value={w.state} empty="no state reported" />
        </section>
        <section className="card card-wide">
          <h2>Current tasks</h2>
          {currentTasks.length === 0 ? (
            <EmptyState title="Idle">No task is running on this worker.</EmptyState>
          ) : (
            <TaskTable
              tasks={currentTasks}
              columns={['type', 'session', 'progress', 'attempts', 'updated']}
            />
          )}
        </section>
        <section className="card card-wide">
          <h2>Recent tasks</h2>
          {recentTasks.length === 0 ? (
            <EmptyState title="None yet" />
          ) : (
            <TaskTable tasks={recentTasks} columns={['type', 'session', 'attempts', 'error', 'updated']} />
          )}
        </section>
        <section className="card card-wide">
          <h2>Recent events</h2>
          <Events events={events} />
        </section>
      </div>
    </>
  );
}
