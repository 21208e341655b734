import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useThroughput } from '../../api/queries';
import type { Throughput, ThroughputPoint } from '../../api/types';
import { EmptyState, ErrorState, Loading } from '../../components/States';

function minuteLabel(iso: string): string {
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** At least a quarter of an hour; no minutes from before the server started sampling, which it did not see. */
function visible(t: Throughput): ThroughputPoint[] {
  const MIN_POINTS = 15;
  if (!t.since) return t.points;
  const since = Math.floor(new Date(t.since).getTime() / t.bucketMs) * t.bucketMs;
  const seen = t.points.filter((p) => new Date(p.at).getTime() >= since);
  return seen.length >= MIN_POINTS ? seen : t.points.slice(-MIN_POINTS);
}

/** Tasks completed and failed per minute over the last hour. */
export function ThroughputChart() {
  const q = useThroughput();
  if (q.isPending) return <Loading what="Loading throughput" />;
  if (q.isError) return <ErrorState error={q.error} title="Throughput is unavailable" />;
  if (q.data === null)
    return <EmptyState title="No throughput data">This server does not report throughput.</EmptyState>;
  const points = visible(q.data).map((p) => ({ ...p, label: minuteLabel(p.at) }));
  const total = points.reduce((s, p) => s + p.completed + p.failed, 0);
  return (
    <div className="chart" data-testid="throughput-chart">
      {total === 0 && <p className="chart-note muted">Nothing finished in this window yet.</p>}
      <ResponsiveContainer width="100%" height={260}>
        <BarChart data={points} margin={{ top: 8, right: 8, bottom: 0, left: -16 }}>
          <CartesianGrid strokeDasharray="3 3" vertical={false} stroke="var(--grid)" />
          <XAxis dataKey="label" tick={{ fontSize: 12 }} minTickGap={24} stroke="var(--muted)" />
          <YAxis allowDecimals={false} tick={{ fontSize: 12 }} stroke="var(--muted)" />
          <Tooltip cursor={{ fill: 'var(--hover)' }} />
          <Legend />
          <Bar dataKey="completed" name="Completed" stackId="a" fill="var(--ok)" isAnimationActive={false} />
          <Bar dataKey="failed" name="Failed" stackId="a" fill="var(--bad)" isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}
