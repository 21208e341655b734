import { Link } from 'react-router';
import type { QueueStat, TaskStatus } from '../../api/types';
import { formatDuration } from '../../components/format';
import { EmptyState } from '../../components/States';

interface QueueRow {
  queue: string;
  counts: Partial<Record<TaskStatus, number>>;
  oldestQueuedMs: number | null;
}

function byQueue(stats: QueueStat[]): QueueRow[] {
  const rows = new Map<string, QueueRow>();
  for (const s of stats) {
    const row = rows.get(s.queue) ?? { queue: s.queue, counts: {}, oldestQueuedMs: null };
    row.counts[s.status] = (row.counts[s.status] ?? 0) + s.count;
    if ((s.status === 'queued' || s.status === 'retrying') && s.oldestAgeMs !== null) {
      row.oldestQueuedMs = Math.max(row.oldestQueuedMs ?? 0, s.oldestAgeMs);
    }
    rows.set(s.queue, row);
  }
  return [...rows.values()].sort((a, b) => a.queue.localeCompare(b.queue));
}

/** Depth and oldest waiting age of each queue. */
export function QueueTable({ stats }: { stats: QueueStat[] }) {
  const rows = byQueue(stats);
  if (rows.length === 0)
    return <EmptyState title="No queues yet">Queues appear when the first task is created.</EmptyState>;
  return (
    <div className="table-wrap">
      <table className="table" data-testid="queue-table">
        <thead>
          <tr>
            <th>Queue</th>
            <th className="num">Queued</th>
            <th className="num">Retrying</th>
            <th className="num">Running</th>
            <th className="num">Dead letters</th>
            <th className="num">Oldest waiting</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.queue}>
              <td>
                <Link to={`/tasks?queue=${encodeURIComponent(r.queue)}`}>{r.queue}</Link>
              </td>
              <td className="num">{r.counts.queued ?? 0}</td>
              <td className="num">{r.counts.retrying ?? 0}</td>
              <td className="num">{r.counts.running ?? 0}</td>
              <td className="num">{r.counts.failed ?? 0}</td>
              <td className="num">{formatDuration(r.oldestQueuedMs)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
