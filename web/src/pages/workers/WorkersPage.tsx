import { useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { useDeleteWorker } from '../../api/actions';
import { useStats, useWorkers } from '../../api/queries';
import type { Worker } from '../../api/types';
import { Ago, useNow } from '../../components/Ago';
import { StaleBadge } from '../../components/Badges';
import { ConfirmButton } from '../../components/ConfirmButton';
import { formatDuration } from '../../components/format';
import { PageHeader } from '../../components/Layout';
import { ActionError, EmptyState, ErrorState, Loading } from '../../components/States';
import { stateLine, workerStats } from './workerStats';

function Row({ w, now }: { w: Worker; now: number }) {
  const del = useDeleteWorker();
  const st = workerStats(w, now);
  return (
    <tr data-worker-id={w.id} className={w.stale ? 'row-stale' : undefined}>
      <td>
        <Link to={`/workers/${encodeURIComponent(w.id)}`} className="mono">
          {w.id}
        </Link>
        {w.name && <div className="muted small">slot {w.name}</div>}
      </td>
      <td>
        <span className="machine">{w.machineId}</span>
        {w.hostname && w.hostname !== w.machineId && <div className="muted small">{w.hostname}</div>}
      </td>
      <td>
        <StaleBadge stale={w.stale} />
      </td>
      <td className="small">{w.types.join(', ') || <span className="muted">any</span>}</td>
      <td className="num">{st.processed ?? '—'}</td>
      <td className="num">{formatDuration(st.uptimeMs)}</td>
      <td>
        <Ago at={w.lastHeartbeatAt} />
      </td>
      <td className="cell-details small">
        {stateLine(w)}
        <ActionError error={del.error} />
      </td>
      <td className="row-actions">
        <ConfirmButton
          label="Delete"
          className="btn btn-small btn-danger-ghost"
          title={`Delete worker ${w.id}?`}
          confirmLabel="Delete worker"
          danger
          onConfirm={() => del.mutate(w.id)}
        >
          {w.stale ? '' : 'It is live: it is made stale first, and its running tasks go back to the queue. '}
          Its state and events are removed; the tasks it ran keep their history.
        </ConfirmButton>
      </td>
    </tr>
  );
}

export function WorkersPage() {
  const [params, setParams] = useSearchParams();
  const inUrl = params.get('stale') === '1';
  // The checkbox answers at once; the URL (shareable, survives a reload) follows.
  const [showStale, setShowStale] = useState(inUrl);
  useEffect(() => setShowStale(inUrl), [inUrl]);
  const q = useWorkers(showStale);
  // The fleet's size from the database's counts, not from the pages loaded so far.
  const fleet = useStats().data?.workers;
  const now = useNow();
  const toggle = (on: boolean) => {
    setShowStale(on);
    const p = new URLSearchParams(params);
    if (on) p.set('stale', '1');
    else p.delete('stale');
    setParams(p, { replace: true });
  };
  const items = q.data?.pages.flatMap((p) => p.items) ?? [];
  const live = fleet?.live ?? items.filter((w) => !w.stale).length;
  const stale = fleet?.stale ?? items.length - live;
  return (
    <>
      <PageHeader
        title="Workers"
        sub={showStale ? `${live} live, ${stale} stale` : `${live} live`}
        actions={
          <label className="toggle">
            <input
              type="checkbox"
              name="showStale"
              checked={showStale}
              onChange={(e) => toggle(e.target.checked)}
            />
            Show stale
          </label>
        }
      />
      <section className="card">
        {q.isPending ? (
          <Loading what="Loading workers" />
        ) : q.isError ? (
          <ErrorState error={q.error} />
        ) : items.length === 0 ? (
          <EmptyState title={showStale ? 'No workers' : 'No live workers'}>
            Start one with <code>gaffer worker</code> or the SDK's Worker.
          </EmptyState>
        ) : (
          <div className="table-wrap">
            <table className="table" data-testid="worker-table">
              <thead>
                <tr>
                  <th>Worker</th>
                  <th>Machine</th>
                  <th>Status</th>
                  <th>Types</th>
                  <th className="num">Processed</th>
                  <th className="num">Uptime</th>
                  <th>Last heartbeat</th>
                  <th>State</th>
                  <th aria-label="Actions" />
                </tr>
              </thead>
              <tbody>
                {items.map((w) => (
                  <Row key={w.id} w={w} now={now} />
                ))}
              </tbody>
            </table>
            {q.hasNextPage && (
              <button type="button" className="btn load-more" onClick={() => void q.fetchNextPage()}>
                Load more
              </button>
            )}
          </div>
        )}
      </section>
    </>
  );
}
