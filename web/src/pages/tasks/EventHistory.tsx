import { useState } from 'react';
import type { TaskEvent } from '../../api/types';
import { formatTime } from '../../components/format';
import { WorkerLink } from './TaskTable';

function summary(e: TaskEvent): string {
  if (!e.data) return '';
  const d = e.data;
  if (e.kind === 'progress') return JSON.stringify(d.progress);
  const err = d.error;
  if (err && typeof err === 'object' && !Array.isArray(err) && typeof err.message === 'string')
    return err.message;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(d)) {
    if (v === null || v === undefined) continue;
    parts.push(`${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
  return parts.join(' · ');
}

/** The task's append-only history, oldest first; progress events fold away unless asked for. */
export function EventHistory({ events }: { events: TaskEvent[] }) {
  const [showProgress, setShowProgress] = useState(false);
  const progressCount = events.filter((e) => e.kind === 'progress').length;
  const shown = showProgress ? events : events.filter((e) => e.kind !== 'progress');
  return (
    <>
      {progressCount > 0 && (
        <label className="toggle">
          <input type="checkbox" checked={showProgress} onChange={(e) => setShowProgress(e.target.checked)} />
          Show {progressCount} progress event{progressCount === 1 ? '' : 's'}
        </label>
      )}
      <div className="table-wrap">
        <table className="table table-compact" data-testid="events">
          <thead>
            <tr>
              <th>When</th>
              <th>Event</th>
              <th className="num">Attempt</th>
              <th>Worker</th>
              <th>Details</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((e) => (
              <tr key={e.id}>
                <td className="nowrap">{formatTime(e.at)}</td>
                <td>
                  <span className={`event event-${e.kind}`}>{e.kind.replaceAll('_', ' ')}</span>
                </td>
                <td className="num">{e.attempt || '—'}</td>
                <td>
                  <WorkerLink id={e.workerId} />
                </td>
                <td className="cell-details">{summary(e)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
