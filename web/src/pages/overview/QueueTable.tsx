import { Link } from 'react-router';
import { usePauseQueue, useResumeQueue } from '../../api/actions';
import type { FlowControl, QueueStat, TaskStatus } from '../../api/types';
import { ConfirmButton } from '../../components/ConfirmButton';
import { formatDuration } from '../../components/format';
import { ActionError, EmptyState } from '../../components/States';

interface QueueRow {
  queue: string;
  counts: Partial<Record<TaskStatus, number>>;
  oldestQueuedMs: number | null;
  flow: FlowControl | null;
}

function byQueue(stats: QueueStat[], flow: FlowControl[]): QueueRow[] {
  const rows = new Map<string, QueueRow>();
  const row = (queue: string) => {
    let r = rows.get(queue);
    if (!r) {
      r = { queue, counts: {}, oldestQueuedMs: null, flow: null };
      rows.set(queue, r);
    }
    return r;
  };
  for (const s of stats) {
    const r = row(s.queue);
    r.counts[s.status] = (r.counts[s.status] ?? 0) + s.count;
    if ((s.status === 'queued' || s.status === 'retrying') && s.oldestAgeMs !== null) {
      r.oldestQueuedMs = Math.max(r.oldestQueuedMs ?? 0, s.oldestAgeMs);
    }
  }
  // A queue under flow control shows even while it holds no tasks: its pause and limits still apply.
  for (const f of flow) if (f.scope === 'queue') row(f.name).flow = f;
  return [...rows.values()].sort((a, b) => a.queue.localeCompare(b.queue));
}

function rateText(r: { limit: number; intervalMs: number }): string {
  const i = r.intervalMs;
  const unit = i % 60_000 === 0 ? `${i / 60_000} min` : i % 1000 === 0 ? `${i / 1000} s` : `${i} ms`;
  return `${r.limit} per ${unit}`;
}

/** A control's limits in words, e.g. "20 at once · 1 per key · 500 per 1 s". */
export function limitsText(f: FlowControl | null): string {
  if (!f) return '';
  const parts = [
    f.concurrency !== null ? `${f.concurrency} at once` : null,
    f.keyConcurrency !== null ? `${f.keyConcurrency} per key` : null,
    f.rate ? rateText(f.rate) : null,
    f.keyRate ? `${rateText(f.keyRate)} per key` : null,
  ];
  return parts.filter(Boolean).join(' · ');
}

function PauseResume({ queue, paused }: { queue: string; paused: boolean }) {
  const pause = usePauseQueue();
  const resume = useResumeQueue();
  const busy = pause.isPending || resume.isPending;
  return (
    <>
      {paused ? (
        <ConfirmButton
          label="Resume"
          title={`Resume queue ${queue}?`}
          confirmLabel="Resume"
          className="btn btn-small"
          disabled={busy}
          onConfirm={() => resume.mutateAsync(queue)}
        >
          Workers start claiming its tasks again.
        </ConfirmButton>
      ) : (
        <ConfirmButton
          label="Pause"
          title={`Pause queue ${queue}?`}
          confirmLabel="Pause"
          className="btn btn-small"
          disabled={busy}
          onConfirm={() => pause.mutateAsync(queue)}
        >
          Nothing new of this queue is claimed until you resume it, on every server; running tasks finish.
        </ConfirmButton>
      )}
      <ActionError error={pause.error ?? resume.error} />
    </>
  );
}

/** Depth and oldest waiting age of each queue, with its flow control: limits, pause, what waits on them. */
export function QueueTable({ stats, flow = [] }: { stats: QueueStat[]; flow?: FlowControl[] }) {
  const rows = byQueue(stats, flow);
  const types = flow.filter((f) => f.scope === 'type');
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
            <th>Limits</th>
            <th className="num">Waiting on a limit</th>
            <th>State</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.queue} data-queue={r.queue} className={r.flow?.paused ? 'row-stale' : undefined}>
              <td>
                <Link to={`/tasks?queue=${encodeURIComponent(r.queue)}`}>{r.queue}</Link>
              </td>
              <td className="num">{r.counts.queued ?? 0}</td>
              <td className="num">{r.counts.retrying ?? 0}</td>
              <td className="num">{r.counts.running ?? 0}</td>
              <td className="num">{r.counts.failed ?? 0}</td>
              <td className="num">{formatDuration(r.oldestQueuedMs)}</td>
              <td data-testid="queue-limits">{limitsText(r.flow)}</td>
              <td className="num" data-testid="queue-waiting">
                {r.flow ? r.flow.waiting : ''}
              </td>
              <td className="row-actions">
                <span
                  className={`badge ${r.flow?.paused ? 'badge-stale' : 'badge-live'}`}
                  data-testid="queue-state"
                >
                  {r.flow?.paused ? 'paused' : 'active'}
                </span>{' '}
                <PauseResume queue={r.queue} paused={r.flow?.paused ?? false} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {types.length > 0 ? (
        <ul className="muted" data-testid="type-controls">
          {types.map((t) => (
            <li key={t.name} data-type={t.name}>
              type {t.name}: {t.paused ? 'paused' : 'active'}
              {limitsText(t) ? ` · ${limitsText(t)}` : ''} · {t.running} running · {t.waiting} waiting
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
