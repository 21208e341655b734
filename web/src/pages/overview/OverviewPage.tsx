import { lazy, Suspense } from 'react';
import { useFlowControls, useStats } from '../../api/queries';
import { formatDuration } from '../../components/format';
import { PageHeader } from '../../components/Layout';
import { StatCard } from '../../components/StatCard';
import { ErrorState, Loading } from '../../components/States';

// The chart library is most of the bundle: it loads with the overview, not before every page.
const ThroughputChart = lazy(() => import('./ThroughputChart').then((m) => ({ default: m.ThroughputChart })));

import { AlertsPanel } from './AlertsPanel';
import { QueueTable } from './QueueTable';

export function OverviewPage() {
  const stats = useStats();
  const flow = useFlowControls();
  if (stats.isPending) return <Loading />;
  if (stats.isError) return <ErrorState error={stats.error} />;
  const { counts, queues, workers } = stats.data;
  const oldest = Math.max(0, ...queues.filter((q) => q.status === 'queued').map((q) => q.oldestAgeMs ?? 0));
  const dead = counts.failed ?? 0;
  return (
    <>
      <PageHeader title="Overview" sub="The whole system at a glance; it updates live." />
      <section className="stats" aria-label="Totals">
        <StatCard
          label="Queued"
          value={counts.queued ?? 0}
          hint={`oldest ${formatDuration(oldest)}`}
          to="/tasks?status=queued"
          testId="stat-queued"
        />
        <StatCard
          label="Running"
          value={counts.running ?? 0}
          to="/tasks?status=running"
          tone="info"
          testId="stat-running"
        />
        <StatCard
          label="Retrying"
          value={counts.retrying ?? 0}
          to="/tasks?status=retrying"
          tone="warn"
          testId="stat-retrying"
        />
        <StatCard
          label="Completed"
          value={counts.completed ?? 0}
          to="/tasks?status=completed"
          tone="ok"
          testId="stat-completed"
        />
        <StatCard
          label="Dead letters"
          value={dead}
          to="/dead-letters"
          tone={dead > 0 ? 'bad' : undefined}
          testId="stat-dead"
        />
        <StatCard
          label="Workers"
          value={workers.live}
          hint={`${workers.stale} stale`}
          to="/workers"
          tone={workers.live > 0 ? 'ok' : 'warn'}
          testId="stat-workers"
        />
      </section>
      <div className="grid-2">
        <section className="card card-wide">
          <h2>Completed and failed per minute</h2>
          <Suspense fallback={<Loading what="Loading the chart" />}>
            <ThroughputChart />
          </Suspense>
        </section>
        <section className="card card-wide">
          <h2>Queues</h2>
          <QueueTable stats={queues} flow={flow.data ?? []} />
        </section>
        <section className="card">
          <h2>Alerts</h2>
          <AlertsPanel />
        </section>
      </div>
    </>
  );
}
